"""Encryption of personal data at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from ``SHEQU_ENCRYPTION_KEY``; without one, a key is generated once into
``var_dir/encryption.key`` (mode 0600) so a single-machine install works out of the box. Production
deployments set the key explicitly and back it up: without it, stored contacts cannot be read.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger(__name__)


class PersonalDataCipher:
    def __init__(self, key: str | bytes) -> None:
        self._fernet = Fernet(key.encode() if isinstance(key, str) else key)

    @classmethod
    def from_settings(cls, key: str, var_dir: Path) -> PersonalDataCipher:
        if key:
            return cls(key)
        path = var_dir / "encryption.key"
        if not path.exists():
            var_dir.mkdir(parents=True, exist_ok=True)
            generated = Fernet.generate_key()
            # O_EXCL: two workers starting at once must not write two different keys.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(generated)
                log.warning("generated a new encryption key at %s; set SHEQU_ENCRYPTION_KEY in production", path)
        _owner_only(path)
        return cls(path.read_bytes().strip())

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def encrypt_bytes(self, data: bytes) -> bytes:
        """For recordings: the same key and scheme as the text fields."""
        return self._fernet.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes | None:
        try:
            return self._fernet.decrypt(token)
        except (InvalidToken, ValueError):
            log.error("a stored recording could not be decrypted (wrong key?)")
            return None

    def decrypt(self, token: str) -> str | None:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            log.error("a stored personal-data field could not be decrypted (wrong key?)")
            return None


def _owner_only(path: Path) -> None:
    """A key file written by an older version (or by hand) may be world-readable: narrow it to 0600."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError as e:
        log.warning("cannot make %s owner-only: %s", path.name, e.strerror)
