"""Files the workspace owns: atomic writes (a temp file in the target folder, fsync, then rename), private
modes (files 0600, folders 0700: the key, the register, the vault and the run page caches hold secrets and
unmarked page images), and write failures as typed errors."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from leakmark.errors import OutputError

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


def write_error(path: Path | str, exc: OSError) -> OutputError:
    """The typed error for a failed write of `path`, saying what to do."""
    what = exc.strerror or str(exc)
    if exc.errno in _DISK_FULL or (exc.errno is None and "space" in what):  # numpy says so without an errno
        return OutputError(f"cannot write {path}: {what}; free space on that disk (or raise the quota) and run "
                           "the command again (an interrupted issue run: `leakmark issue --resume last`)")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(f"cannot write {path}: {what}; check the folder's permissions or choose another one")
    return OutputError(f"cannot write {path}: {what}")


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one.

    The file is created 0600 (`mode` to choose another); a failed write raises OutputError."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, exc) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def temp_path_for(path: Path) -> Path:
    """A hidden temporary name beside `path` (created 0600), for writers that need a file name (e.g. PyMuPDF)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def private_dir(path: Path) -> Path:
    """Create `path` (and its missing parents) as a folder only its owner can enter; tighten it if it exists."""
    path = Path(path)
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from exc
    tighten(path, PRIVATE_DIR)
    return path


def private_create(path: Path) -> None:
    """Create an empty file 0600 unless it exists (so that a writer which creates with its own mode, e.g.
    SQLite, finds a private file)."""
    if os.path.lexists(path):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
    except OSError as exc:
        raise write_error(path, exc) from exc


def tighten(path: Path, mode: int) -> bool:
    """Best effort: take away group and other permissions from a file or folder this process owns. Returns
    whether anything changed. A file owned by someone else, a read-only disk or a platform without POSIX
    modes leaves it as it is (leakmark still works; the README says to keep the workspace private)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    current = stat.S_IMODE(st.st_mode)
    if current & ~mode == 0 or (hasattr(os, "geteuid") and st.st_uid != os.geteuid()):
        return False
    try:
        os.chmod(path, current & mode)
    except OSError:
        return False
    return True
