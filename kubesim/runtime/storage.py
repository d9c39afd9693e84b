"""Durable storage of a logical actor: files that survive a crash only once fsynced.

Writes (append, truncate, replace) are buffered like a page cache; `fsync` makes a
file's buffered operations durable after the modelled fsync latency. A crash
discards whatever was not fsynced. Durable bytes live in real files under the
run's directory (`<run_dir>/machines/<machine>/<actor>/`), so a restarted actor,
or a restarted process, reads back exactly what it fsynced.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import BinaryIO

_Op = tuple[str, bytes | int]


class Storage:
    """The files of one actor. File names are flat (no directories)."""

    def __init__(
        self,
        root: Path,
        fsync_delay: Callable[[], Awaitable[None]],
        real_fsync: bool = False,
    ) -> None:
        self._root = root
        self._fsync_delay = fsync_delay
        self._real_fsync = real_fsync
        self._pending: dict[str, list[_Op]] = {}  # the directory is made by the first write
        self._made = False  # the directory exists (made by this incarnation's first flush)
        self._appending: dict[str, BinaryIO] = {}  # files open for appending, as a log writer keeps them

    @property
    def root(self) -> Path:
        return self._root

    def _path(self, name: str) -> Path:
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"invalid storage file name {name!r}")
        return self._root / name

    def append(self, name: str, data: bytes) -> None:
        """Append bytes; durable only after `fsync(name)`."""
        self._path(name)
        self._pending.setdefault(name, []).append(("append", bytes(data)))

    def truncate(self, name: str, size: int) -> None:
        """Cut the file to `size` bytes; durable only after `fsync(name)`."""
        if size < 0:
            raise ValueError("truncate size must be >= 0")
        self._path(name)
        self._pending.setdefault(name, []).append(("truncate", size))

    def replace(self, name: str, data: bytes) -> None:
        """Replace the whole content (atomically at fsync, like write-then-rename)."""
        self._path(name)
        self._pending.setdefault(name, []).append(("replace", bytes(data)))

    def remove(self, name: str) -> None:
        """Delete the file now (metadata operations are treated as durable)."""
        self._pending.pop(name, None)
        self._close(name)
        self._path(name).unlink(missing_ok=True)

    def read(self, name: str) -> bytes:
        """The file as this process sees it: durable bytes plus buffered operations."""
        path = self._path(name)
        data = path.read_bytes() if path.exists() else b""
        for op, arg in self._pending.get(name, ()):
            data = _apply(data, op, arg)
        return data

    def exists(self, name: str) -> bool:
        return name in self._pending or self._path(name).exists()

    def list(self) -> list[str]:
        durable = self._root.iterdir() if self._root.is_dir() else ()
        names = {p.name for p in durable if p.is_file()} | set(self._pending)
        return sorted(names)

    def size(self, name: str) -> int:
        return len(self.read(name))

    def durable_size(self, name: str) -> int:
        path = self._path(name)
        return path.stat().st_size if path.exists() else 0

    def has_unsynced(self, name: str) -> bool:
        return bool(self._pending.get(name))

    async def fsync(self, *names: str) -> None:
        """Make the buffered operations of `names` (all files if none) durable.

        Takes the modelled fsync time first; a crash during it loses the data.
        """
        targets = list(names) if names else list(self._pending)
        snapshot = {n: list(self._pending.get(n, ())) for n in targets}
        await self._fsync_delay()
        for name, ops in snapshot.items():
            if ops:
                self._flush(name, ops)
                rest = self._pending.get(name, [])
                del rest[: len(ops)]
                if not rest:
                    self._pending.pop(name, None)

    def _flush(self, name: str, ops: list[_Op]) -> None:
        path = self._path(name)
        if not self._made:
            self._root.mkdir(parents=True, exist_ok=True)
            self._made = True
        if all(op == "append" for op, _arg in ops):  # a log's usual flush: one write
            f = self._appending.get(name)
            if f is None:
                f = self._appending[name] = open(path, "ab")  # closed by _close
            f.write(b"".join(arg for _op, arg in ops))  # type: ignore[misc]
            f.flush()
            self._sync(f.fileno())
            return
        self._close(name)
        for op, arg in ops:
            if op == "append":
                with open(path, "ab") as f:
                    f.write(arg)  # type: ignore[arg-type]
                    self._sync(f.fileno())
            elif op == "truncate":
                if not path.exists():
                    path.touch()
                os.truncate(path, arg)  # type: ignore[arg-type]
            else:
                tmp = path.with_name(path.name + ".tmp")
                with open(tmp, "wb") as f:
                    f.write(arg)  # type: ignore[arg-type]
                    self._sync(f.fileno())
                os.replace(tmp, path)

    def _sync(self, fd: int) -> None:
        if self._real_fsync:
            os.fsync(fd)

    def flush_unsynced(self) -> None:
        """What a graceful exit does: the OS writes buffered data back without an fsync wait."""
        for name, ops in self._pending.items():
            self._flush(name, ops)
        self._pending.clear()
        self._close()

    def discard_unsynced(self) -> None:
        """What a crash does: buffered operations vanish."""
        self._pending.clear()
        self._close()

    def _close(self, name: str | None = None) -> None:
        """Close the append handle of `name` (of every file if None)."""
        for key in [name] if name is not None else list(self._appending):
            f = self._appending.pop(key, None)
            if f is not None:
                f.close()



def wipe(root: Path) -> None:
    """Lose a storage directory entirely (a machine replaced, not restarted)."""
    shutil.rmtree(root, ignore_errors=True)


def _apply(data: bytes, op: str, arg: bytes | int) -> bytes:
    if op == "append":
        return data + arg  # type: ignore[operator]
    if op == "truncate":
        size = int(arg)  # type: ignore[arg-type]
        return data[:size] + b"\0" * max(0, size - len(data))
    return arg  # type: ignore[return-value]
