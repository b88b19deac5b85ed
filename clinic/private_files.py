"""Files that hold personal data are readable by their owner only.

The embedded database (var/clinic.db, and the journals SQLite makes beside
it with the database file's mode), the Twilio local-mode outbox
(var/twilio-outbox.jsonl) and the generated secrets are created 0600, and
an existing one with a wider mode is narrowed when a process opens it (a
umask set at start-up would not change a file made earlier). A folder made
for them is 0700; `make run` also narrows var/ itself (scripts/run.sh).
An existing folder is left as it is: `make run-scaled` keeps nginx's
buffers under var/, which nginx's workers must reach.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import IO, Union

logger = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
PathLike = Union[str, "os.PathLike[str]"]


def private_dir(path: PathLike) -> Path:
    """`path` as a folder, made 0700 (with any missing parents) if missing."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    return path


def narrow(path: PathLike) -> None:
    """Takes group and other permissions off an existing file."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
    except FileNotFoundError:
        pass
    except PermissionError:  # not ours: say so rather than fail
        logger.warning("Could not make a private file owner-only (not its owner)")


def private_file(path: PathLike) -> Path:
    """`path` as an owner-only file: made empty (0600) if missing, narrowed
    if it exists with a wider mode. Its folder is made as `private_dir`."""
    path = Path(path)
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        narrow(path)
    return path


def open_private_append(path: PathLike) -> IO[str]:
    """`path` opened for appending text, created 0600, narrowed if wider."""
    path = Path(path)
    private_dir(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    narrow(path)
    return os.fdopen(descriptor, "a", encoding="utf-8")
