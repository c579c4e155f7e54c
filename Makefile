# The two commands of the README: `make run` and `make test`. Everything they need is installed here
# when missing: Debian packages (when apt is available), a .venv, the project and its dependencies.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
SHEQU := $(VENV)/bin/shequ
DEB_PACKAGES := fonts-wqy-microhei espeak-ng alsa-utils xvfb xauth libmtdev1 xclip chromium
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint sysdeps venv bench eval clean

run: venv
	$(SHEQU) serve --host $(HOST) --port $(PORT)

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

# Reinstall only when pyproject.toml changes. torch is installed first, pinned, so that no other
# requirement can pull a CUDA build.
$(VENV)/.stamp-install: pyproject.toml | $(PY)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[kiosk,dev]"
	touch $@

venv: $(VENV)/.stamp-install

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
