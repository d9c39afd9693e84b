"""The trace hash: a digest of every delivery of a sim run, proving two runs identical."""

from __future__ import annotations

import hashlib

from kubesim.runtime.envelope import Envelope


class TraceHash:
    """Folds each delivered envelope (time, kind, addresses, correlation, payload bytes) into a hash."""

    def __init__(self) -> None:
        self._hash = hashlib.blake2b(digest_size=16)
        self.events = 0

    def record(self, now: float, env: Envelope, payload: bytes) -> None:
        self.events += 1
        self._hash.update(
            f"{now!r}|{int(env.kind)}|{env.src}|{env.dst}|{env.corr}|{len(payload)}|".encode()
        )
        self._hash.update(payload)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
