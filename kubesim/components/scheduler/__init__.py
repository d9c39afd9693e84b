"""kube-scheduler: the scheduling framework, queue, cache and plugins as a pure core
(:class:`Scheduler`), and the actor that runs it on the kubesim runtime against the API.

The actor feeds informer events into :class:`Scheduler`, calls ``schedule_next`` for
scheduling cycles and ``bind`` / ``finish_binding`` for binding cycles, and performs the
API calls the outcomes ask for.
"""

from kubesim.components.scheduler.cache import Cache
from kubesim.components.scheduler.framework import CycleClock, Framework
from kubesim.components.scheduler.interfaces import CycleState, Handle
from kubesim.components.scheduler.profile import PluginRef, PluginSet, Profile, default_profile
from kubesim.components.scheduler.queue import SchedulingQueue
from kubesim.components.scheduler.registry import Registry, in_tree_registry
from kubesim.components.scheduler.schedule_one import (
    FitError,
    ScheduleResult,
    SchedulingAlgorithm,
    num_feasible_nodes_to_find,
)
from kubesim.components.scheduler.scheduler import Assumed, BindOutcome, Failure, Scheduler
from kubesim.components.scheduler.snapshot import ClusterObjects, Snapshot
from kubesim.components.scheduler.status import Code, Status

__all__ = [
    "Assumed", "BindOutcome", "Cache", "ClusterObjects", "Code", "CycleClock", "CycleState",
    "Failure", "FitError", "Framework", "Handle", "PluginRef", "PluginSet", "Profile", "Registry",
    "ScheduleResult", "Scheduler", "SchedulingAlgorithm", "SchedulingQueue", "Snapshot", "Status",
    "default_profile", "in_tree_registry", "num_feasible_nodes_to_find",
]
