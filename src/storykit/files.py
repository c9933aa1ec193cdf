"""Output files: portable names (:func:`check_output_path`, :func:`safe_join`) and the atomic
writer (:class:`atomic_writer`: a temporary file in the target's folder, then ``os.replace``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
from pathlib import Path
from typing import BinaryIO

from storykit.errors import ErrorDetail, ValidationError

__all__ = ["MAX_NAME_BYTES", "atomic_writer", "check_output_path", "is_stream_target",
           "safe_join", "temp_path"]

#: The longest file name written (bytes): the limit of ext4, XFS, APFS and NTFS alike.
MAX_NAME_BYTES = 255


PathLike = str | os.PathLike[str]


# Names Windows reserves for devices, with any extension ("nul.html" too): refused everywhere, so
# that outputs copied to a Windows share or a zip stay usable.
_RESERVED_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{dev}{n}" for dev in ("COM", "LPT") for n in "123456789\u00b9\u00b2\u00b3"]
)

_BAD_NAME_CHAR = re.compile("[\x00-\x1f\x7f]")


def check_output_path(path: PathLike) -> Path:
    """``path`` as a :class:`~pathlib.Path` if a file can be written there portably.

    Refused with :class:`~storykit.ValidationError` (path ``output``, the value given): a name
    longer than 255 bytes, a folder (``out/``, ``.``, ``..``), control characters, and the
    device names Windows reserves (``CON``, ``NUL``, ``COM1``, ... with any extension).
    """
    raw = os.fspath(path)
    name = Path(raw).name
    if raw.endswith(("/", os.sep)) or name in ("", ".", ".."):
        message = "names a folder, not a file"
    elif _BAD_NAME_CHAR.search(raw):
        bad = _BAD_NAME_CHAR.search(raw)
        assert bad is not None
        message = f"contains the control character U+{ord(bad.group()):04X}"
    elif len(os.fsencode(name)) > MAX_NAME_BYTES:
        message = (f"the file name is {len(os.fsencode(name)):,} bytes long; the limit is "
                   f"{MAX_NAME_BYTES} bytes")
    elif name.split(".")[0].rstrip(" ").upper() in _RESERVED_NAMES:
        message = ("names a device Windows reserves (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with "
                   "any extension)")
    else:
        return Path(raw)
    raise ValidationError([ErrorDetail("output", f"{raw!r} {message}", raw)])


def safe_join(folder: PathLike, name: str) -> Path:
    """``folder / name`` for a file name that comes from data (a story id, a subscriber).

    Raises :class:`~storykit.ValidationError` if ``name`` would leave ``folder`` (a separator,
    ``..``, an absolute path) or is not a portable file name (see :func:`check_output_path`).
    """
    seps = {"/", os.sep, os.altsep or "/"}
    if not name or name in (".", "..") or any(sep in name for sep in seps):
        raise ValidationError([ErrorDetail(
            "output", f"{name!r} is not a plain file name: it would leave the folder "
                      f"{os.fspath(folder)!r}", name)])
    return check_output_path(Path(folder) / name)


#: Paths that name a process's open descriptor (``/dev/stdout`` links to one of them).
_DESCRIPTORS = ("/dev/fd/", "/proc/")


def is_stream_target(path: PathLike) -> bool:
    """Whether ``path`` is written into rather than replaced: a device, a pipe or a socket, or
    an open descriptor (``/dev/stdout``, ``/dev/fd/1``), whatever file that one is."""
    name = str(Path(path).absolute())
    if name.startswith(_DESCRIPTORS):
        return True
    try:
        if os.path.islink(name) and os.readlink(name).startswith(_DESCRIPTORS):
            return True  # /dev/stdout, /dev/stderr
        mode = os.stat(name).st_mode  # (through a link: what gets written is what it names)
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


#: A temporary file of ours: ``.<name>.<pid>-<random>.tmp``, the pid of the process writing it.
_TMP = re.compile(r"(\d+)-[0-9a-f]{8}\.tmp")


def _tmp_prefix(name: str) -> str:
    # Cut the name to 200 bytes so that the temporary name stays under 255 bytes.
    return "." + os.fsdecode(os.fsencode(name)[:200]) + "."


def temp_path(target: Path) -> Path:
    """A new, unused path beside ``target`` for a temporary file or folder of this process
    (removed as stale by a later write once this process is gone)."""
    import secrets  # here, not at the top: it imports hashlib and random (import time)

    folder, name = target.parent, target.name
    _remove_stale_temps(folder, name)
    while True:
        tmp = folder / f"{_tmp_prefix(name)}{os.getpid()}-{secrets.token_hex(4)}.tmp"
        if not os.path.lexists(tmp):
            return tmp


def _open_temp(target: Path) -> tuple[int, Path]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(
        os, "O_BINARY", 0)
    while True:
        tmp = temp_path(target)
        try:
            # Mode 0666: the kernel takes the umask off, as for open(); mkstemp would give 0600.
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # pragma: no cover - a 32-bit random clash
            continue


def _alive(pid: int) -> bool:
    if pid == os.getpid() or sys.platform == "win32":  # os.kill(pid, 0) kills on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Delete the temporary files (and folders) of ``name`` left by writers that were killed
    mid-write."""
    prefix = _tmp_prefix(name)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        m = _TMP.fullmatch(entry.name, len(prefix))
        if m is not None and not _alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    import shutil

                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)


def fsync_folder(folder: Path) -> None:
    """Make the rename durable; best effort (not every system can open a folder)."""
    if sys.platform == "win32":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _keep_mode(fd: int, path: Path) -> None:
    """Give the new file the mode of the regular file it replaces (a 0600 file stays private)."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return
    if stat.S_ISREG(st.st_mode) and sys.platform != "win32":
        os.fchmod(fd, stat.S_IMODE(st.st_mode))


class atomic_writer:  # noqa: N801 - used as a context manager, like open()
    """``with atomic_writer(path) as f:`` writes ``path`` whole or not at all.

    The data goes to a temporary file in the target's folder, is flushed to disk, and then
    replaces ``path`` in one ``os.replace`` (and the folder is synced). On any error the old file
    is untouched and the temporary file removed; one left by a process that was killed is
    removed by the next write of the same file. A symbolic link at ``path`` is replaced by the
    file, never written through. A new file gets the permissions a plain ``open()`` would give
    it (0666 less the umask); a file replaced keeps its mode.

    A target that is not a file but a device, a pipe or a socket (``/dev/null``, a FIFO, the
    ``/dev/fd/63`` of ``>(...)``), or an open descriptor (``/dev/stdout``), is written straight
    into, as a shell's ``>>`` would: it cannot be replaced atomically, and must never be.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = check_output_path(path)
        self._file: BinaryIO | None = None
        self._tmp: Path | None = None

    def __enter__(self) -> BinaryIO:
        if is_stream_target(self.path):
            # Appended to, as a shell's >> does: /dev/stdout redirected to a file reopens that
            # file, and "wb" would empty it of what is already there.
            self._file = open(self.path, "ab")  # closed in __exit__
            return self._file
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_dir() and not self.path.is_symlink():
            raise IsADirectoryError(errno.EISDIR, "is a folder; give a file name",
                                    str(self.path))
        fd, self._tmp = _open_temp(self.path)
        self._file = os.fdopen(fd, "wb", buffering=1024 * 1024)
        return self._file

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        f, tmp = self._file, self._tmp
        assert f is not None
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            exc.filename = str(self.path)  # "out.html: No space left on device"
        try:
            if tmp is None:  # a stream target: written as it went
                f.close()
            elif exc_type is None:
                f.flush()
                _keep_mode(f.fileno(), self.path)
                os.fsync(f.fileno())
                f.close()
                os.replace(tmp, self.path)
                tmp = None
                fsync_folder(self.path.parent)
        except OSError as e:
            if e.filename is None:
                e.filename = str(self.path)
            raise
        finally:
            if not f.closed:
                with contextlib.suppress(OSError):  # e.g. flushing the rest onto a full disk
                    f.close()
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
