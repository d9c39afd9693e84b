"""The in-tree scheduler plugins (pkg/scheduler/framework/plugins)."""

from kubesim.components.scheduler.plugins.basic import (
    DefaultBinder,
    NodeName,
    NodePorts,
    NodeUnschedulable,
    PrioritySort,
    SchedulingGates,
)
from kubesim.components.scheduler.plugins.defaultpreemption import DefaultPreemption
from kubesim.components.scheduler.plugins.imagelocality import ImageLocality
from kubesim.components.scheduler.plugins.interpodaffinity import InterPodAffinity
from kubesim.components.scheduler.plugins.nodeaffinity import NodeAffinity
from kubesim.components.scheduler.plugins.noderesources import (
    NodeResourcesBalancedAllocation,
    NodeResourcesFit,
)
from kubesim.components.scheduler.plugins.podtopologyspread import PodTopologySpread
from kubesim.components.scheduler.plugins.tainttoleration import TaintToleration

IN_TREE = (
    PrioritySort, SchedulingGates, NodeName, NodeUnschedulable, NodePorts, DefaultBinder,
    TaintToleration, NodeAffinity, NodeResourcesFit, NodeResourcesBalancedAllocation,
    PodTopologySpread, InterPodAffinity, ImageLocality, DefaultPreemption,
)

__all__ = [cls.__name__ for cls in IN_TREE] + ["IN_TREE"]
