"""Small actors used by the runtime tests."""

from __future__ import annotations

from typing import Any

from kubesim.runtime import Actor, Address


class Recorder(Actor):
    """Records what it receives (with the time); echoes calls; can write to its storage."""

    def __init__(self) -> None:
        self.got: list[tuple[float, str, Any]] = []

    def on_start(self) -> None:
        self.started = self.ctx.incarnation

    def receive(self, sender: Address, message: Any) -> Any:
        self.got.append((self.ctx.now(), str(sender), message))
        if isinstance(message, dict):
            op = message.get("op")
            if op == "send":
                self.ctx.send(message["to"], message["body"])
                return None
            if op == "fail":
                raise ValueError("asked to fail")
            if op == "append":
                self.ctx.storage.append("log", message["data"])
                return None
            if op == "fsync":
                return self._fsync()
            if op == "read":
                return self.ctx.storage.read("log")
            if op == "call":
                return self.ctx.call(message["to"], message["body"], message.get("timeout"))
        return {"echo": message}

    async def _fsync(self) -> str:
        await self.ctx.storage.fsync("log")
        return "synced"
