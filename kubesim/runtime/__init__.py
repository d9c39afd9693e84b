"""The runtime interface components are written against, and its two implementations.

Components import from here (`Actor`, `ActorSpec`, `Address`, `Machine`, `Context`);
`kubesim.runtime.sim` and `kubesim.runtime.ray` run them. Only `kubesim.runtime.ray`
imports ray.
"""

from kubesim.runtime.actor import Actor, ActorSpec
from kubesim.runtime.address import Address, Machine
from kubesim.runtime.context import Context, Timer
from kubesim.runtime.errors import CallTimeout, RemoteError

__all__ = [
    "Actor",
    "ActorSpec",
    "Address",
    "CallTimeout",
    "Context",
    "Machine",
    "RemoteError",
    "Timer",
]
