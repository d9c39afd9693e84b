"""The deterministic `sim` runtime: one process, one virtual clock, a seed that fixes everything."""

from kubesim.runtime.sim.runtime import ActorFailed, SimRuntime

__all__ = ["ActorFailed", "SimRuntime"]
