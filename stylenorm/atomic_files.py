"""Every file the project writes reaches its path whole and checked, or not at all: :func:`atomic_path`, and
:func:`remove_stale_temporaries` for a killed writer's leftovers. Details: docs/modules.md.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname().split(".")[0]) or "host"
_OURS = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)\.[0-9a-f]+\.tmp$")
_LEGACY = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp$")  # tempfile.mkstemp(prefix=".name.", suffix=".tmp")


def temporary_name(path: Path) -> Path:
    """A fresh temporary path beside ``path`` that names this host and process."""
    return path.with_name(f".{path.name}.{_HOST}-{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's live process
        pass
    return False


def remove_stale_temporaries(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Delete and return the temporaries in ``folder`` (of target ``name``, if given) of processes that are gone."""
    removed = []
    for entry in sorted(Path(folder).glob(".*.tmp")):
        ours, legacy = _OURS.match(entry.name), _LEGACY.match(entry.name)
        if ours is not None:  # another host's, or a live process's: not ours to judge
            stale = ours["host"] == _HOST and name in (None, ours["name"]) and _process_gone(int(ours["pid"]))
        else:
            stale = legacy is not None and name in (None, legacy["name"])
        if stale:
            with contextlib.suppress(FileNotFoundError):  # a concurrent cleaner got there first
                entry.unlink()
                removed.append(entry)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """An empty temporary file beside ``path``: synced and renamed to ``path`` on a normal exit, else removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, path.name)
    temporary = temporary_name(path)
    # 0o666 minus the umask, as open() and every other tool creates files.
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield temporary
        with open(temporary, "rb+") as handle:  # the writer may have closed it without syncing
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename durable where the platform allows it
        descriptor = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """``Path.write_text`` through :func:`atomic_path`."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding=encoding)
    return Path(path)
