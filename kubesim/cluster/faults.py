"""Fault scenarios of the cluster spec: what to break, and when.

Each fault has a name, a trigger (`at`: simulated time after the cluster is ready, or
`on`: an event, plus a `delay`) and a `type` with its targets:

- `crashMachine`: every actor on the machines dies at once, losing unsynced writes (in
  `stacked` that is an etcd member, an apiserver, a scheduler, a controller manager and
  a kubelet); `restartAfter` brings the machines back.

Machine faults name their `machines`, or `etcdMachines: N`: the machines that run N etcd
members, the current leader's first, then the others in member order (chosen when the
fault fires). The same fault then means the same thing in both topologies: `cp-N` run
the members when stacked, `etcd-N` when external.
- `restartMachine`: a clean reboot: graceful stop, down for `downFor`, start.
- `partition`: cut `zones` or `machines` off from the rest of the cluster; `healAfter`.
- `slowDisk`: multiply the fsync latency (`disk.fsync` in the cost model) of `machines`
  by `fsyncFactor` for `duration`.
- `killLeader`: crash the current leader of etcd, kube-scheduler or
  kube-controller-manager (whichever holds the Raft leadership or the Lease when the
  fault fires); `restartAfter` restarts it.
- `stopKubelets`: stop the kubelets of a `share` of the nodes (of `pools` / `zones` when
  given), chosen with the run's seed; `restartAfter` starts them again.

Only the spec and its checks live here; the executor walks these at run time.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from kubesim.cluster.fields import CamelModel, DnsLabel, NonNegativeDuration, PositiveDuration, Zone

LEADER_COMPONENTS = ("etcd", "kube-scheduler", "kube-controller-manager")
LeaderComponent = Literal["etcd", "kube-scheduler", "kube-controller-manager"]
Targets = Annotated[list[str], Field(min_length=1)]


class FaultEvent(CamelModel):
    """An event that fires a fault: another fault starting or ending, or a new leader."""

    event: Literal["faultStarted", "faultEnded", "leaderChanged"]
    fault: str | None = None  # faultStarted / faultEnded: the other fault's name
    component: LeaderComponent | None = None  # leaderChanged: whose leader
    delay: NonNegativeDuration = 0.0


class _Fault(CamelModel):
    name: DnsLabel
    at: NonNegativeDuration | None = None
    on: FaultEvent | None = None


class _MachineFault(_Fault):
    """A fault on machines: named (`machines`) or those of N etcd members (`etcdMachines`)."""

    machines: Targets | None = None
    etcd_machines: Annotated[int, Field(ge=1)] | None = None


class CrashMachine(_MachineFault):
    type: Literal["crashMachine"]
    restart_after: PositiveDuration | None = None

    def ends(self) -> bool:
        """Whether the fault undoes itself (so a `faultEnded` event can follow it)."""
        return self.restart_after is not None


class RestartMachine(_MachineFault):
    type: Literal["restartMachine"]
    down_for: NonNegativeDuration = 0.0

    def ends(self) -> bool:
        return True


class Partition(_MachineFault):
    type: Literal["partition"]
    zones: Annotated[list[Zone], Field(min_length=1)] | None = None
    heal_after: PositiveDuration | None = None

    def ends(self) -> bool:
        return self.heal_after is not None


class SlowDisk(_MachineFault):
    type: Literal["slowDisk"]
    fsync_factor: Annotated[float, Field(gt=1)]
    duration: PositiveDuration | None = None

    def ends(self) -> bool:
        return self.duration is not None


class KillLeader(_Fault):
    type: Literal["killLeader"]
    component: LeaderComponent
    restart_after: PositiveDuration | None = None

    def ends(self) -> bool:
        return self.restart_after is not None


class StopKubelets(_Fault):
    type: Literal["stopKubelets"]
    share: Annotated[float, Field(gt=0, le=1)]
    pools: Annotated[list[str], Field(min_length=1)] | None = None
    zones: Annotated[list[Zone], Field(min_length=1)] | None = None
    restart_after: PositiveDuration | None = None

    def ends(self) -> bool:
        return self.restart_after is not None


Fault = Annotated[
    CrashMachine | RestartMachine | Partition | SlowDisk | KillLeader | StopKubelets,
    Field(discriminator="type"),
]
