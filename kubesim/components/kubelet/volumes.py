"""The modelled CSI and local volume plugins: how long a pod waits for its volumes.

The kubelet's volume manager (pkg/kubelet/volumemanager) mounts every volume of a pod
before its containers start (WaitForAttachAndMount) and unmounts them once the pod has
terminated (WaitForUnmount); its reconciler runs one operation per volume in parallel, so a
pod waits for its slowest volume.

- Block volumes (a persistentVolumeClaim, a CSI ephemeral volume, the in-tree cloud disks)
  are attached to the node (ControllerPublishVolume, done by the attach/detach controller
  in kube-controller-manager: modelled here as part of the wait) and then staged and
  published on the node: ``kubelet.csi_attach`` + ``kubelet.csi_mount``. A PVC is taken to
  be backed by such a disk (the PV is not read).
- Network file systems (nfs, cephfs, glusterfs, ...) are only mounted: ``kubelet.csi_mount``.
- Local volumes (configMap, secret, projected, downwardAPI, emptyDir, hostPath) are written
  or bind-mounted on the node: ``kubelet.local_volume_setup``.
Unmounting any volume costs ``kubelet.volume_teardown``.
"""

from __future__ import annotations

import random
from typing import Any

from kubesim.runtime.costmodel import CostModel

ATTACHABLE = ("persistentVolumeClaim", "csi", "ephemeral", "awsElasticBlockStore",
              "gcePersistentDisk", "azureDisk", "cinder", "vsphereVolume", "rbd", "iscsi", "fc",
              "portworxVolume", "photonPersistentDisk", "scaleIO", "storageos")
NETWORK_FS = ("nfs", "cephfs", "glusterfs", "azureFile", "quobyte", "flocker", "flexVolume")


def volume_kind(volume: dict[str, Any]) -> str:
    """"attachable", "network" or "local" for one pod volume."""
    if any(volume.get(k) is not None for k in ATTACHABLE):
        return "attachable"
    if any(volume.get(k) is not None for k in NETWORK_FS):
        return "network"
    return "local"


def setup_seconds(pod: dict[str, Any], cost: CostModel, rng: random.Random) -> float:
    """The wait for every volume of `pod` to be attached and mounted (0 without volumes)."""
    longest = 0.0
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        kind = volume_kind(volume)
        if kind == "attachable":
            seconds = cost.sample("kubelet.csi_attach", rng) + cost.sample("kubelet.csi_mount", rng)
        elif kind == "network":
            seconds = cost.sample("kubelet.csi_mount", rng)
        else:
            seconds = cost.sample("kubelet.local_volume_setup", rng)
        longest = max(longest, seconds)
    return longest


def teardown_seconds(pod: dict[str, Any], cost: CostModel, rng: random.Random) -> float:
    """The wait for every volume of a terminated pod to be unmounted."""
    volumes = (pod.get("spec") or {}).get("volumes") or []
    return max((cost.sample("kubelet.volume_teardown", rng) for _ in volumes), default=0.0)
