"""Files and directories only the API's user may read: the database, the jobs' directories, the key.

`python -m api` runs under umask 077, and ansible-runner is started with it; these
also fix the modes of what an earlier, laxer start left behind."""

from __future__ import annotations

import os
from pathlib import Path

UMASK = 0o077


def private_dir(path):
    """`path` made if missing (its missing parents too, 0700), and 0700."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o777 != 0o700:
        path.chmod(0o700)
    return path


def private_file(path, create=False):
    """`path` 0600 if it exists (created empty first when `create`)."""
    path = Path(path)
    if create:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    try:
        if path.stat().st_mode & 0o777 != 0o600:
            path.chmod(0o600)
    except FileNotFoundError:
        pass
    return path


def private_data_dir(settings):
    """The data directory and its jobs directory, 0700."""
    private_dir(settings.data_dir)
    private_dir(Path(settings.data_dir) / "jobs")
