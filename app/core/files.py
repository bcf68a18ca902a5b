"""Files and folders of the data folder: private modes, and disk failures as ``DiskError``.

The data folder holds titles, ideas, errors and the database: every folder of it is
0700 and every log file 0600, however loose the umask, and folders an older version
left looser are tightened at start. A write that fails because the disk is full, over
quota, read-only or not writable becomes a ``DiskError`` with a message that says which
folder and what to do, instead of an ``OSError`` and a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import logging.handlers
import os
import shutil
import stat
import sys
from pathlib import Path

from app.core.errors import DiskError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600

_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EFBIG}
_READ_ONLY = {errno.EROFS}
_DENIED = {errno.EACCES, errno.EPERM}
DISK_ERRNOS = frozenset(_FULL | _READ_ONLY | _DENIED) - {-1}


def is_disk_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_ERRNOS


def disk_error(exc: OSError, path: str | Path) -> DiskError | None:
    """The ``DiskError`` for ``exc`` raised while writing under ``path``, or None when
    ``exc`` is not about the disk (a bug, a missing file: the caller handles those)."""
    if not is_disk_error(exc):
        return None
    folder = _folder(Path(path))
    if exc.errno == getattr(errno, "EDQUOT", -1):
        message = f"your disk quota for {folder} is used up: free some space"
    elif exc.errno == errno.EFBIG:
        message = (f"a file in {folder} is larger than this disk or the file-size limit "
                   "allows: free some space or raise the limit")
    elif exc.errno in _FULL:
        message = f"the disk holding {folder} is full: free some space"
    elif exc.errno in _READ_ONLY:
        message = (f"the disk holding {folder} is read-only: make it writable or point "
                   "STORYREEL_HOME at a writable folder")
    else:
        message = (f"{folder} cannot be written (permission denied): give your user write "
                   "access to it or point STORYREEL_HOME at a writable folder")
    return DiskError(message, path=str(folder), errno=exc.errno)


def _folder(path: Path) -> Path:
    """The folder to name: ``path`` itself when it is one, else its parent."""
    with contextlib.suppress(OSError):
        if path.is_dir():
            return path
    return path.parent


def private_dir(path: str | Path) -> Path:
    """Make ``path`` (and missing parents) a folder only its owner can enter; an existing
    folder with looser modes is tightened. Returns the path."""
    path = Path(path)
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)  # parents get the umask
    tighten(path, PRIVATE_DIR)
    return path


def tighten(path: str | Path, mode: int) -> None:
    """Remove from ``path`` every permission ``mode`` lacks (never adds any, so a folder
    its owner made read-only stays read-only); a path that is gone, or that is not ours
    (root could change it all the same), is left as it is."""
    with contextlib.suppress(OSError, AttributeError):  # no modes or no uids (Windows)
        info = os.stat(path)
        current = stat.S_IMODE(info.st_mode)
        if current & ~mode and info.st_uid == os.geteuid():
            os.chmod(path, current & mode)


def private_file(path: str | Path) -> Path:
    """Create ``path`` if missing, mode 0600, and tighten it if it exists looser."""
    path = Path(path)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    tighten(path, PRIVATE_FILE)
    return path


def secure_home(home: str | Path) -> None:
    """Create the data folder and its parts 0700 and tighten what is looser (the
    database folder included, when it exists). Failing to is not fatal here: the part
    that then cannot write says so with its own message."""
    home = Path(home)
    with contextlib.suppress(OSError):
        private_dir(home)
        for name in ("blobs", "cache", "logs"):
            private_dir(home / name)
        for name in ("db", "tmp"):
            tighten(home / name, PRIVATE_DIR)
        logs = home / "logs"
        for log_file in logs.glob("*.log*"):
            tighten(log_file, PRIVATE_FILE)
        sweep_scratch(home / "tmp")  # frames of exports killed with SIGKILL


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A ``RotatingFileHandler`` whose files (the first and each one after a rollover)
    are 0600: the log holds titles, errors and the database's address."""

    def _open(self):  # type: ignore[no-untyped-def]
        private_file(self.baseFilename)
        return super()._open()


def sweep_scratch(folder: str | Path) -> int:
    """Remove the work folders (``export-<pid>-*``) that processes no longer running
    left in ``folder``: the frames of an export killed with SIGKILL. Folders of live
    processes (another export, in this app or another) are left alone. Returns how many
    were removed."""
    removed = 0
    with contextlib.suppress(OSError):
        for entry in Path(folder).iterdir():
            pid = _owner_pid(entry.name)
            if pid is None or pid_alive(pid):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def _owner_pid(name: str) -> int | None:
    prefix, _, rest = name.partition("-")
    number = rest.partition("-")[0]
    return int(number) if prefix == "export" and number.isdigit() else None


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would end the process there
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # type: ignore[attr-defined]
        if handle:
            ctypes.windll.kernel32.CloseHandle(handle)  # type: ignore[attr-defined]
        return bool(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
