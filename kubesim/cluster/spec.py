"""The `Cluster` spec: one YAML file that describes a whole simulated cluster.

    kind: Cluster
    name: ha-stacked
    zones: [zone-a, zone-b, zone-c]
    controlPlane: {topology: stacked, machines: 3}
    nodePools:
    - {name: pool-a, count: 100, machine: {cpu: "8", memory: 32Gi}}
    runtime: {type: sim, seed: 1, nodesPerHost: 50}

Structure keys are camelCase like Kubernetes config files; each component's section is
spelled like that component's own configuration: command-line flags for etcd,
kube-apiserver and kube-controller-manager (`flags.py`), the config-file fields of
KubeSchedulerConfiguration, KubeletConfiguration and KubeProxyConfiguration
(`scheduler_config.py`, `nodes.py`). Control-plane counts follow kubeadm: one etcd
member (stacked), kube-apiserver, kube-scheduler and kube-controller-manager per
control-plane machine, the last two leader-elected; with `cloudProvider: external`, also a
leader-elected cloud-controller-manager per control-plane machine and a fake cloud.

Field checks run as the YAML is read; checks across fields (`checks.py`) run once every
field is valid, and the first problem is raised as a `SpecProblem` naming its field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from kubesim.api import field
from kubesim.api import labels as api_labels
from kubesim.cluster.checks import problems
from kubesim.cluster.faults import Fault
from kubesim.cluster.fields import (
    CamelModel,
    DnsLabel,
    PositiveDuration,
    PositiveQuantity,
    Zone,
    field_errors,
)
from kubesim.cluster.flags import ApiserverFlags, ControllerManagerFlags, EtcdFlags
from kubesim.cluster.nodes import KubeletSettings, KubeProxySettings, MachineShape, Taint
from kubesim.cluster.scheduler_config import SchedulerSettings
from kubesim.specs import BatchSettings, CostSettings, RuntimeSettings, SpecProblem

Count = Annotated[int, Field(ge=1)]
Zones = Annotated[list[Zone], Field(min_length=1)]


class ExternalEtcd(CamelModel):
    """The etcd machines of the `external` topology (kubeadm "External etcd nodes")."""

    machines: Count = 3
    zones: Zones | None = None  # default: the control plane's zones
    machine: MachineShape = MachineShape()


class ControlPlane(CamelModel):
    """The control-plane machines and what runs on them.

    `stacked`: each machine runs an etcd member beside its kube-apiserver, as `kubeadm
    init` / `kubeadm join --control-plane` build it. `external`: etcd runs on machines of
    its own (`externalEtcd`). The counts of apiservers, schedulers and controller
    managers default to one per machine (kubeadm's static pods) and may be fewer.
    """

    topology: Literal["stacked", "external"] = "stacked"
    machines: Count = 1
    zones: Zones | None = None  # default: every cluster zone
    machine: MachineShape = MachineShape()
    apiservers: Count | None = None
    schedulers: Count | None = None
    controller_managers: Count | None = None
    external_etcd: ExternalEtcd | None = None

    def apiserver_count(self) -> int:
        return self.machines if self.apiservers is None else self.apiservers

    def scheduler_count(self) -> int:
        return self.machines if self.schedulers is None else self.schedulers

    def controller_manager_count(self) -> int:
        return self.machines if self.controller_managers is None else self.controller_managers

    def etcd_placement(self) -> ExternalEtcd:
        """The external etcd machines (kubeadm's HA guide uses three when none are given)."""
        return self.external_etcd if self.external_etcd is not None else ExternalEtcd()

    def etcd_members(self) -> int:
        return self.machines if self.topology == "stacked" else self.etcd_placement().machines


class HealthCheck(CamelModel):
    """The load balancer's apiserver health check: HAProxy `option httpchk` as kubeadm's
    HA guide (ha-considerations.md) configures it, with HAProxy's defaults (inter 2s,
    rise 2, fall 3)."""

    path: Literal["/healthz", "/livez", "/readyz"] = "/healthz"
    interval: PositiveDuration = 2.0
    rise: Count = 2
    fall: Count = 3


class LoadBalancer(CamelModel):
    """The apiserver load balancer in front of the control plane (`balance roundrobin`)."""

    balance: Literal["roundrobin"] = "roundrobin"
    health_check: HealthCheck = HealthCheck()


class NodePool(CamelModel):
    """`count` worker nodes of one machine shape, spread round-robin over `zones`."""

    name: DnsLabel
    count: Count
    machine: MachineShape = MachineShape()
    zones: Zones | None = None  # default: every cluster zone
    labels: dict[str, str] = {}
    taints: list[Taint] = []
    kubelet: KubeletSettings | None = None  # over the cluster's kubelet section
    kube_proxy: KubeProxySettings | None = None  # over the cluster's kubeProxy section

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return field_errors(api_labels.validate_labels(value, field.new_path("labels")), value)


class Probe(CamelModel):
    """The load prober: clients writing and reading through the load balancer at a steady
    rate while the faults run, from which the report's availability figures come.

    Each write is a merge PATCH of one ConfigMap, each read a GET of it (a quorum read
    from etcd, as `kubectl get` does). A request that gets no 2xx answer within `timeout`
    counts as failed in the second it was sent.
    """

    writes_per_second: Annotated[float, Field(gt=0, le=1000)] = 10.0
    reads_per_second: Annotated[float, Field(ge=0, le=1000)] = 10.0
    timeout: PositiveDuration = 10.0


class Workload(CamelModel):
    """A Deployment the bootstrap creates (and waits for), so node faults have pods to
    lose and the report can count them: `replicas` pods of one container requesting
    `cpu` and `memory`. `tolerationSeconds` sets how long the pods stay bound to a
    not-ready or unreachable node (the NoExecute tolerations; default: the apiserver's
    DefaultTolerationSeconds, 300 s)."""

    name: DnsLabel
    namespace: DnsLabel = "default"
    replicas: Annotated[int, Field(ge=0)] = 1
    image: str = "registry.k8s.io/pause:3.10"
    cpu: PositiveQuantity = "100m"
    memory: PositiveQuantity = "64Mi"
    toleration_seconds: Annotated[int, Field(ge=0)] | None = None


class ClusterBatchSettings(BatchSettings):
    model_config = ConfigDict(alias_generator=to_camel)


class ClusterRuntimeSettings(RuntimeSettings):
    """RuntimeSettings, camelCase, plus how many nodes' agents share one host actor."""

    model_config = ConfigDict(alias_generator=to_camel)

    batch: ClusterBatchSettings = ClusterBatchSettings()
    # 5,000 nodes -> 50 host actors: a Ray actor is a process of ~60 MB (docs/DESIGN)
    nodes_per_host: Count = 100
    # ray: "component" gives each control-plane component (etcd member, apiserver,
    # scheduler, controller manager, load balancer actors) a Ray actor of its own;
    # "machine" puts a machine's components in one Ray actor, as they share one machine:
    # fewer processes, and calls between them (a stacked apiserver and its etcd member)
    # stay in the process. The components stay separate actors with their own mailboxes,
    # the network model still delays their messages, but they share one core (one GIL)
    control_plane_hosts: Literal["component", "machine"] = "component"


class ClusterSpec(CamelModel):
    """A whole cluster: control plane, node pools, faults, runtime and cost model."""

    kind: Literal["Cluster"]
    name: DnsLabel = "kubesim"
    zones: Zones = ["zone-a"]
    control_plane: ControlPlane = ControlPlane()
    load_balancer: LoadBalancer = LoadBalancer()
    etcd: EtcdFlags = EtcdFlags()
    apiserver: ApiserverFlags = ApiserverFlags()
    scheduler: SchedulerSettings = SchedulerSettings()
    controller_manager: ControllerManagerFlags = ControllerManagerFlags()
    kubelet: KubeletSettings = KubeletSettings()
    kube_proxy: KubeProxySettings = KubeProxySettings()
    # "external": kubelets run with --cloud-provider=external (nodes register tainted
    # node.cloudprovider.kubernetes.io/uninitialized) and a cloud-controller-manager per
    # control-plane machine initializes them against a fake cloud (instances, load
    # balancers, routes); "": no cloud provider, as kubeadm's default
    cloud_provider: Literal["", "external"] = ""
    node_pools: list[NodePool] = []
    faults: list[Fault] = []
    # how long `kubesim run` watches the cluster once it is ready (default: until a
    # minute after the last timed fault, or a minute with no faults)
    duration: PositiveDuration | None = None
    probe: Probe = Probe()
    workloads: list[Workload] = []
    runtime: ClusterRuntimeSettings = ClusterRuntimeSettings()
    cost_model: CostSettings = CostSettings()

    @model_validator(mode="after")
    def _cross_field(self) -> ClusterSpec:
        problem = next(problems(self), None)
        if problem is not None:
            raise SpecProblem(*problem)
        return self

    def run_duration(self) -> float:
        """Seconds the run lasts after the cluster is ready."""
        if self.duration is not None:
            return self.duration
        ends = [f.at + _undo_time(f) for f in self.faults if f.at is not None]
        return max(ends, default=0.0) + 60.0

    def control_plane_zones(self) -> list[str]:
        return self.control_plane.zones or self.zones

    def etcd_zones(self) -> list[str]:
        if self.control_plane.topology == "stacked":
            return self.control_plane_zones()
        return self.control_plane.etcd_placement().zones or self.control_plane_zones()

    def pool_zones(self, pool: NodePool) -> list[str]:
        return pool.zones or self.zones



def _undo_time(fault: Fault) -> float:
    """How long after it fires a timed fault undoes itself (0 when it never does)."""
    for attr in ("restart_after", "down_for", "heal_after", "duration"):
        value = getattr(fault, attr, None)
        if value is not None:
            return float(value)
    return 0.0
