"""Errors raised by the runtime to actors and to the driver."""

from __future__ import annotations


class RuntimeErrorBase(Exception):
    """Base class of every error the runtime raises."""


class CallTimeout(RuntimeErrorBase, TimeoutError):
    """A `call` got no reply within its timeout (lost message, partition, dead peer)."""


class RemoteError(RuntimeErrorBase):
    """The callee's handler raised; carries the exception's type name and message."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message


class ActorNotFound(RuntimeErrorBase, LookupError):
    """The runtime has no actor at that address."""


class SimulationStalled(RuntimeErrorBase):
    """The virtual clock has nothing left to run while the driver still waits."""


class SpecError(RuntimeErrorBase, ValueError):
    """A placement or actor spec the runtime cannot honour."""
