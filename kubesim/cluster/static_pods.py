"""kubeadm's control-plane static pod manifests, one set per control-plane machine.

`kubeadm init` / `kubeadm join --control-plane` write /etc/kubernetes/manifests/{etcd,
kube-apiserver,kube-controller-manager,kube-scheduler}.yaml (cmd/kubeadm/app/phases/
controlplane/manifests.go, phases/etcd/local.go, util/staticpod, v1.32); the machine's
kubelet runs them and shows them in kube-system as mirror pods `<component>-<node>`. Here
the plan's control-plane actors (those with a `static_pod` name) become those manifests
for their machine's kubelet: etcd only in the stacked topology, labels component=<name>
and tier=control-plane, hostNetwork, priorityClassName system-node-critical, the images
kubeadm 1.32 pins, kubeadm's probes, requests and hostPath volumes, and the flags the
placed actors run with where the spec sets them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kubesim.cluster import names
from kubesim.cluster.topology import Plan
from kubesim.components.kubelet.config import KubeletConfig

if TYPE_CHECKING:
    from kubesim.cluster.spec import ClusterSpec

Obj = dict[str, Any]

KUBERNETES_VERSION = "v1.32.0"
ETCD_IMAGE = "registry.k8s.io/etcd:3.5.16-0"  # kubeadm 1.32 constants.DefaultEtcdVersion
#: the control-plane images a kubeadm node holds before the manifests are written
#: (preflight's `kubeadm config images pull`), with approximate compressed linux/amd64 sizes
IMAGES: dict[str, int] = {
    f"registry.k8s.io/kube-apiserver:{KUBERNETES_VERSION}": 28_000_000,
    f"registry.k8s.io/kube-controller-manager:{KUBERNETES_VERSION}": 26_000_000,
    f"registry.k8s.io/kube-scheduler:{KUBERNETES_VERSION}": 20_000_000,
    ETCD_IMAGE: 57_700_000,
}
PKI = "/etc/kubernetes/pki"
APISERVER_PORT = 6443
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
ETCD_METRICS_PORT = 2381
SERVICE_SUBNET = "10.96.0.0/12"  # kubeadm's default serviceSubnet
#: the requests kubeadm gives each component (manifests.go, local.go)
REQUESTS = {"etcd": {"cpu": "100m", "memory": "100Mi"}, "kube-apiserver": {"cpu": "250m"},
            "kube-controller-manager": {"cpu": "200m"}, "kube-scheduler": {"cpu": "100m"}}


def control_plane_ips(plan: Plan, pod_network: str) -> dict[str, str]:
    """The address of each control-plane node, as its kubelet registers it."""
    return {node.name: KubeletConfig.for_node(index, node.name, pod_network=pod_network).node_ip
            for index, node in enumerate(plan.nodes) if node.pool == names.CONTROL_PLANE_POOL}


def control_plane_manifests(spec: ClusterSpec, plan: Plan, pod_network: str) -> dict[str, list[Obj]]:
    """The static pod manifests of each control-plane node (nodes running none are left
    out); `pod_network` is the cluster CIDR the node IPAM hands podCIDRs out of."""
    ips = control_plane_ips(plan, pod_network)
    etcd_members = plan.actors_of(names.ETCD)
    stacked = plan.topology == "stacked"
    etcd_hosts = [ips[a.machine] if stacked else a.machine for a in etcd_members]
    cluster = ",".join(f"{a.machine}=https://{host}:{ETCD_PEER_PORT}" for a, host in zip(etcd_members, etcd_hosts,
                                                                                          strict=True))
    out: dict[str, list[Obj]] = {}
    for actor in plan.actors:
        if actor.static_pod is None or actor.machine not in ips:
            continue
        ip = ips[actor.machine]
        kind = actor.address.kind
        if kind == names.ETCD:
            manifest = etcd_pod(actor.machine, ip, cluster, spec)
        elif kind == names.APISERVER:
            servers = [f"https://127.0.0.1:{ETCD_CLIENT_PORT}"] if stacked else \
                [f"https://{host}:{ETCD_CLIENT_PORT}" for host in etcd_hosts]
            manifest = apiserver_pod(ip, servers, spec)
        elif kind == names.CONTROLLER_MANAGER:
            manifest = controller_manager_pod(spec, pod_network)
        else:
            manifest = scheduler_pod()
        out.setdefault(actor.machine, []).append(manifest)
    return out


def etcd_pod(node: str, ip: str, initial_cluster: str, spec: ClusterSpec) -> Obj:
    """etcd.yaml (phases/etcd/local.go GetEtcdPodSpec)."""
    flags = spec.etcd
    command = [
        "etcd", f"--advertise-client-urls=https://{ip}:{ETCD_CLIENT_PORT}", f"--cert-file={PKI}/etcd/server.crt",
        "--client-cert-auth=true", "--data-dir=/var/lib/etcd", "--experimental-initial-corrupt-check=true",
        "--experimental-watch-progress-notify-interval=5s",
        f"--initial-advertise-peer-urls=https://{ip}:{ETCD_PEER_PORT}", f"--initial-cluster={initial_cluster}",
        f"--key-file={PKI}/etcd/server.key",
        f"--listen-client-urls=https://127.0.0.1:{ETCD_CLIENT_PORT},https://{ip}:{ETCD_CLIENT_PORT}",
        f"--listen-metrics-urls=http://127.0.0.1:{ETCD_METRICS_PORT}", f"--listen-peer-urls=https://{ip}:{ETCD_PEER_PORT}",
        f"--name={node}", f"--peer-cert-file={PKI}/etcd/peer.crt", "--peer-client-cert-auth=true",
        f"--peer-key-file={PKI}/etcd/peer.key", f"--peer-trusted-ca-file={PKI}/etcd/ca.crt",
        f"--snapshot-count={flags.snapshot_count or 10000}", f"--trusted-ca-file={PKI}/etcd/ca.crt",
    ]
    for flag, value in (("heartbeat-interval", flags.heartbeat_interval), ("election-timeout", flags.election_timeout),
                        ("quota-backend-bytes", flags.quota_backend_bytes)):
        if value is not None:
            command.append(f"--{flag}={value}")
    probe = _probe("/health?exclude=NOSPACE&serializable=true", ETCD_METRICS_PORT, "HTTP")
    return _pod("etcd", ETCD_IMAGE, command, liveness=probe, startup=_startup(probe),
                annotations={"kubeadm.kubernetes.io/etcd.advertise-client-urls": f"https://{ip}:{ETCD_CLIENT_PORT}"},
                volumes={"etcd-certs": (f"{PKI}/etcd", "DirectoryOrCreate"),
                         "etcd-data": ("/var/lib/etcd", "DirectoryOrCreate")})


def apiserver_pod(ip: str, etcd_servers: list[str], spec: ClusterSpec) -> Obj:
    """kube-apiserver.yaml (phases/controlplane/manifests.go getAPIServerCommand)."""
    flags = spec.apiserver
    command = [
        "kube-apiserver", f"--advertise-address={ip}", "--allow-privileged=true", "--authorization-mode=Node,RBAC",
        f"--client-ca-file={PKI}/ca.crt", "--enable-admission-plugins=NodeRestriction",
        "--enable-bootstrap-token-auth=true", f"--etcd-cafile={PKI}/etcd/ca.crt",
        f"--etcd-certfile={PKI}/apiserver-etcd-client.crt", f"--etcd-keyfile={PKI}/apiserver-etcd-client.key",
        f"--etcd-servers={','.join(etcd_servers)}", f"--secure-port={APISERVER_PORT}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={PKI}/sa.pub", f"--service-account-signing-key-file={PKI}/sa.key",
        f"--service-cluster-ip-range={SERVICE_SUBNET}", f"--tls-cert-file={PKI}/apiserver.crt",
        f"--tls-private-key-file={PKI}/apiserver.key",
    ]
    if not flags.enable_priority_and_fairness:
        command.append("--enable-priority-and-fairness=false")
    for flag, value in (("max-requests-inflight", flags.max_requests_inflight),
                        ("max-mutating-requests-inflight", flags.max_mutating_requests_inflight),
                        ("default-watch-cache-size", flags.default_watch_cache_size),
                        ("min-request-timeout", flags.min_request_timeout)):
        if value is not None:
            command.append(f"--{flag}={value}")
    if flags.request_timeout is not None:
        command.append(f"--request-timeout={flags.request_timeout:g}s")
    host = {"host": ip}
    return _pod("kube-apiserver", f"registry.k8s.io/kube-apiserver:{KUBERNETES_VERSION}", command,
                liveness=_probe("/livez", APISERVER_PORT, "HTTPS", host),
                readiness=_probe("/readyz", APISERVER_PORT, "HTTPS", host, delay=0, period=1, failures=3),
                startup=_startup(_probe("/livez", APISERVER_PORT, "HTTPS", host)),
                annotations={"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint":
                             f"{ip}:{APISERVER_PORT}"},
                volumes={"ca-certs": ("/etc/ssl/certs", "DirectoryOrCreate"),
                         "etc-ca-certificates": ("/etc/ca-certificates", "DirectoryOrCreate"),
                         "k8s-certs": (PKI, "DirectoryOrCreate")})


def controller_manager_pod(spec: ClusterSpec, pod_network: str) -> Obj:
    """kube-controller-manager.yaml (manifests.go getControllerManagerCommand)."""
    flags = spec.controller_manager
    conf = "/etc/kubernetes/controller-manager.conf"
    command = [
        "kube-controller-manager", "--allocate-node-cidrs=true", f"--authentication-kubeconfig={conf}",
        f"--authorization-kubeconfig={conf}", "--bind-address=127.0.0.1", f"--client-ca-file={PKI}/ca.crt",
        f"--cluster-cidr={pod_network}", "--cluster-name=kubernetes",
        f"--cluster-signing-cert-file={PKI}/ca.crt", f"--cluster-signing-key-file={PKI}/ca.key",
        "--controllers=*,bootstrapsigner,tokencleaner", f"--kubeconfig={conf}",
        f"--leader-elect={str(flags.leader_elect).lower()}",
        f"--requestheader-client-ca-file={PKI}/front-proxy-ca.crt", f"--root-ca-file={PKI}/ca.crt",
        f"--service-account-private-key-file={PKI}/sa.key", f"--service-cluster-ip-range={SERVICE_SUBNET}",
        "--use-service-account-credentials=true",
    ]
    for flag, value in (("node-monitor-period", flags.node_monitor_period),
                        ("node-monitor-grace-period", flags.node_monitor_grace_period)):
        if value is not None:
            command.append(f"--{flag}={value:g}s")
    return _pod("kube-controller-manager", f"registry.k8s.io/kube-controller-manager:{KUBERNETES_VERSION}", command,
                liveness=_probe("/healthz", 10257, "HTTPS"), startup=_startup(_probe("/healthz", 10257, "HTTPS")),
                volumes={"ca-certs": ("/etc/ssl/certs", "DirectoryOrCreate"),
                         "flexvolume-dir": ("/usr/libexec/kubernetes/kubelet-plugins/volume/exec", "DirectoryOrCreate"),
                         "k8s-certs": (PKI, "DirectoryOrCreate"), "kubeconfig": (conf, "FileOrCreate")})


def scheduler_pod() -> Obj:
    """kube-scheduler.yaml (manifests.go getSchedulerCommand)."""
    conf = "/etc/kubernetes/scheduler.conf"
    command = ["kube-scheduler", f"--authentication-kubeconfig={conf}", f"--authorization-kubeconfig={conf}",
               "--bind-address=127.0.0.1", f"--kubeconfig={conf}", "--leader-elect=true"]
    return _pod("kube-scheduler", f"registry.k8s.io/kube-scheduler:{KUBERNETES_VERSION}", command,
                liveness=_probe("/healthz", 10259, "HTTPS"), startup=_startup(_probe("/healthz", 10259, "HTTPS")),
                volumes={"kubeconfig": (conf, "FileOrCreate")})


def _probe(path: str, port: int, scheme: str, host: Mapping[str, str] | None = None, *, delay: int = 10,
           period: int = 10, failures: int = 8) -> Obj:
    """staticpod.LivenessProbe / ReadinessProbe: an httpGet on the component's own port."""
    return {"httpGet": {**(host or {"host": "127.0.0.1"}), "path": path, "port": port, "scheme": scheme},
            "initialDelaySeconds": delay, "periodSeconds": period, "timeoutSeconds": 15,
            "failureThreshold": failures}


def _startup(probe: Obj) -> Obj:
    """staticpod.StartupProbe: the liveness check, 24 failures allowed (4 minutes)."""
    return {**probe, "failureThreshold": 24}


def _pod(component: str, image: str, command: list[str], *, liveness: Obj, startup: Obj,
         readiness: Obj | None = None, annotations: Mapping[str, str] | None = None,
         volumes: Mapping[str, tuple[str, str]]) -> Obj:
    """staticpod.ComponentPod: the shape every control-plane manifest shares."""
    container: Obj = {
        "name": component, "image": image, "imagePullPolicy": "IfNotPresent", "command": command,
        "resources": {"requests": dict(REQUESTS[component])},
        "livenessProbe": liveness, "startupProbe": startup,
        "volumeMounts": [{"name": name, "mountPath": path, "readOnly": name not in ("etcd-data", "etcd-certs")}
                         for name, (path, _) in sorted(volumes.items())],
    }
    if readiness is not None:
        container["readinessProbe"] = readiness
    metadata: Obj = {"name": component, "namespace": "kube-system",
                     "labels": {"component": component, "tier": "control-plane"}}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": metadata,
        "spec": {
            "containers": [container], "hostNetwork": True, "priority": 2000001000,
            "priorityClassName": "system-node-critical",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [{"name": name, "hostPath": {"path": path, "type": kind}}
                        for name, (path, kind) in sorted(volumes.items())],
        },
    }
