# The two commands of the README: `make run` and `make test`. Everything they need is installed here
# when missing: Debian packages (when apt is available), a .venv, the project and its dependencies.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
LOCK := requirements.lock
SHEQU := $(VENV)/bin/shequ
DEB_PACKAGES := fonts-wqy-microhei espeak-ng alsa-utils xvfb xauth libmtdev1 xclip chromium sox libportaudio2 nginx
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint sysdeps venv lock bench eval clean

# With no SHEQU_COMMUNITY_PROFILE the demonstration profile is used (answers say it is an example).
run: venv
	SHEQU_DEMO_PROFILE=$${SHEQU_DEMO_PROFILE:-true} $(SHEQU) serve --host $(HOST) --port $(PORT)

test: sysdeps venv lint
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

eval: venv
	$(SHEQU) eval ../shared/eval/dev_queries.yaml

bench: venv
	$(SHEQU) bench

# Debian packages: fonts for the kiosk, espeak-ng for speech, Xvfb and Chromium for the GUI and browser tests.
sysdeps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages:$$missing"; \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	  else echo "apt-get not available; missing Debian packages:$$missing (tests that need them skip)"; fi; \
	fi

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Reinstall only when pyproject.toml or the lock changes. Every package comes from $(LOCK), pinned with its
# hashes (torch is the local CPU build, so nothing can pull a CUDA one); the project itself goes in without
# dependencies, and `pip check` then catches a dependency added to pyproject.toml but not yet locked.
$(VENV)/.stamp-install: pyproject.toml $(LOCK) | $(PY)
	$(PIP) install -q --require-hashes -r $(LOCK)
	$(PIP) install -q --no-deps -e .
	@$(PIP) check >/dev/null || { $(PIP) check; echo "$(LOCK) is behind pyproject.toml: run make lock"; exit 1; }
	touch $@

venv: $(VENV)/.stamp-install

# Regenerates $(LOCK) from pyproject.toml (dependencies + extras kiosk, dev), keeping the current pins where they
# still fit. To move pins on: make lock LOCK_ARGS="--upgrade-package NAME" (or LOCK_ARGS=--upgrade for all).
# Index and find-links lines are left out of the file: pip's own configuration on each machine supplies them.
lock: | $(PY)
	@[ -x $(VENV)/bin/pip-compile ] || $(PIP) install -q --require-hashes -r $(LOCK)
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --extra kiosk --extra dev \
	  --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) -o $(LOCK) pyproject.toml

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
