"""Secrets in jobs' variables, encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The options named in schemas.SECRET_PATHS are sealed before a job is stored:
each value becomes {"$fernet": "<token>"}, a shape no schema lets a client send,
so a sealed value is never taken for a password. They are opened only to write
the runner's private extravars file. The key is a file under the data directory
(or Settings.secret_key_file), made once and never overwritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from . import schemas
from .private import private_dir, private_file

SEALED = "$fernet"


class SecretError(Exception):
    """A sealed value this process cannot open (another key, or a damaged value)."""


def key_path(settings):
    return Path(settings.secret_key_file) if settings.secret_key_file else Path(settings.data_dir) / "secret.key"


def load_or_make_key(path):
    """The key in `path`; made there (0600, atomically: a temporary file linked into place) if there is none.

    Linking fails when the file exists, so a key is never overwritten, even by two processes starting at once."""
    path = Path(path)
    if not path.exists():
        private_dir(path.parent)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key() + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink()
    private_file(path)
    return path.read_bytes().strip()


class SecretBox:
    def __init__(self, key):
        self.fernet = Fernet(key)

    @classmethod
    def from_settings(cls, settings):
        return cls(load_or_make_key(key_path(settings)))

    def seal(self, variables):
        """`variables` with every secret option encrypted (those already sealed kept as they are)."""
        return _map_secrets(variables, self._seal_one)

    def open(self, variables):
        """`variables` with every sealed secret option decrypted: for the runner's extravars only."""
        return _map_secrets(variables, self._open_one)

    def _seal_one(self, value, path):
        if _is_sealed(value):
            return value
        return {SEALED: self.fernet.encrypt(json.dumps(value).encode()).decode()}

    def _open_one(self, value, path):
        if not _is_sealed(value):
            return value
        try:
            return json.loads(self.fernet.decrypt(value[SEALED].encode()))
        except InvalidToken:
            raise SecretError(f"vars.{path}: cannot be decrypted with this API's secret key (API processes "
                              "sharing a database need the same VMM_API_SECRET_KEY_FILE)") from None


def _is_sealed(value):
    return isinstance(value, dict) and set(value) == {SEALED} and isinstance(value[SEALED], str)


def _map_secrets(value, change, path=""):
    """`value` with change(item, path) applied to the items at schemas.SECRET_PATHS (walked as redact() walks)."""
    if isinstance(value, dict) and not _is_sealed(value):
        result = {}
        for key, item in value.items():
            item_path = f"{path}.{key}".lstrip(".")
            secret = item_path in schemas.SECRET_PATHS and item is not None
            result[key] = change(item, item_path) if secret else _map_secrets(item, change, item_path)
        return result
    if isinstance(value, list):
        return [_map_secrets(item, change, path) for item in value]
    return value
