"""The server secret that signs session cookies and CSRF tokens.

``SHEQU_SECRET_KEY`` when set; otherwise generated once into ``var_dir/secret.key`` (mode 0600) so that
every worker of one installation signs with the same key.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from assistant.settings import Settings

log = logging.getLogger(__name__)

_cache: dict[str, bytes] = {}


def server_secret(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    path = Path(settings.var_dir) / "secret.key"
    cached = _cache.get(str(path))
    if cached is not None:
        return cached
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two workers starting at once must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
            log.warning("generated a new session secret at %s; set SHEQU_SECRET_KEY in production", path)
    _owner_only(path)
    value = path.read_text().strip().encode("utf-8")
    _cache[str(path)] = value
    return value


def _owner_only(path: Path) -> None:
    """A key file written by an older version (or by hand) may be world-readable: narrow it to 0600."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError as e:
        log.warning("cannot make %s owner-only: %s", path.name, e.strerror)
