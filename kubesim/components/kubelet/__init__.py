"""The kubelet: one node's agent, after kubernetes/pkg/kubelet (v1.32).

Modules:
    kubelet         the actor: registration, Lease, node status, watches, status writes, node
                    faults (stop/start the service, network down/up), kubelet_spec
    network         the node's link to the control plane (a switch in front of its API client)
    syncloop        the pure pod management: sources, admission, pod workers, PLEG, agenda
    podworker       one pod's state machine (sync, terminate), pure
    podstatus       the pod status the kubelet reports (phase, conditions, container statuses)
    status_manager  cached statuses, versions, merge and patch, deletion of finished pods
    probes          startup / readiness / liveness prober workers
    behavior        the kubesim.io/* annotations that script a container's life
    backoff         flowcontrol.Backoff (CrashLoopBackOff, ImagePullBackOff)
    admission       the predicate admit handler (resources, host ports, affinity, taints)
    images          the modelled registry and the node's image service (cache, puller)
    ipam            the modelled CNI's host-local IPAM over the node's podCIDR
    volumes         the modelled CSI / local volume set-up and teardown times
    containers      the runtime's sandbox and container records
    nodestatus      the Node object, its status and the node Lease
    static_pods     static pods from manifests and their mirror pods
    config          KubeletConfig: the node and the KubeletConfiguration fields used
    metrics         the kubelet_* Prometheus metrics
"""
