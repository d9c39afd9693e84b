"""What a node is made of in the cluster spec: its machine shape, its kubelet's
configuration and its kube-proxy's.

Field names are those of the real config files: `KubeletConfiguration`
(kubelet.config.k8s.io/v1beta1) and `KubeProxyConfiguration`
(kubeproxy.config.k8s.io/v1alpha1), as kubeadm writes them into the `kubelet-config` and
`kube-proxy` ConfigMaps. A field left unset (None) takes the cost-model profile's value
(`kubelet.*`, `kube_proxy.*`), which is the upstream default.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from kubesim.api import field, labels
from kubesim.cluster.fields import (
    CamelModel,
    PositiveDuration,
    PositiveQuantity,
    field_errors,
    set_fields,
)
from kubesim.components.kube_proxy.ipvs import SCHEDULERS as IPVS_SCHEDULERS

DEFAULT_MAX_PODS = 110  # KubeletConfiguration maxPods default


class MachineShape(CamelModel):
    """A machine's capacity, as its Node reports it in `status.capacity`.

    The default is a general-purpose 4 vCPU / 16 GiB virtual machine (AWS m5.xlarge, GCP
    n2-standard-4) with a 100 GiB root disk; `pods` is the kubelet's maxPods.
    """

    cpu: PositiveQuantity = "4"
    memory: PositiveQuantity = "16Gi"
    ephemeral_storage: PositiveQuantity = Field("100Gi", alias="ephemeral-storage")
    pods: Annotated[int, Field(ge=1)] = DEFAULT_MAX_PODS

    def capacity(self) -> dict[str, str]:
        """`status.capacity` of a node of this shape."""
        return {
            "cpu": self.cpu,
            "memory": self.memory,
            "ephemeral-storage": self.ephemeral_storage,
            "pods": str(self.pods),
        }


class KubeletSettings(CamelModel):
    """KubeletConfiguration fields a cluster spec sets (maxPods is the machine shape's
    `pods`). Unset: the profile's `kubelet.*` value."""

    node_status_update_frequency: PositiveDuration | None = None  # (10s)
    node_status_report_frequency: PositiveDuration | None = None  # (5m)
    node_lease_duration_seconds: Annotated[int, Field(ge=1)] | None = None  # (40)
    kube_api_qps: Annotated[float, Field(gt=0)] | None = Field(None, alias="kubeAPIQPS")  # (50)
    kube_api_burst: Annotated[int, Field(ge=1)] | None = Field(None, alias="kubeAPIBurst")  # (100)

    def merged(self, pool: KubeletSettings | None) -> KubeletSettings:
        """These settings with the fields a node pool sets over them."""
        return self if pool is None else self.model_copy(update=set_fields(pool))


class IpvsSettings(CamelModel):
    scheduler: str = ""  # blank: rr, as kube-proxy

    @field_validator("scheduler")
    @classmethod
    def _known(cls, value: str) -> str:
        if value and value not in IPVS_SCHEDULERS:
            raise PydanticCustomError(
                "ipvs_scheduler",
                "{message}",
                {"message": f"unsupported IPVS scheduler {value!r}: must be one of "
                 f"{', '.join(IPVS_SCHEDULERS)}, or blank for the default (rr)"},
            )
        return value


class KubeProxySettings(CamelModel):
    """KubeProxyConfiguration: the proxy mode and, in ipvs mode, the IPVS scheduler.
    An empty mode is iptables on Linux, as kube-proxy."""

    mode: Literal["", "iptables", "ipvs", "nftables"] = ""
    ipvs: IpvsSettings = IpvsSettings()

    def proxy_mode(self) -> str:
        return self.mode or "iptables"

    def ipvs_scheduler(self) -> str:
        return self.ipvs.scheduler or "rr"

    def merged(self, pool: KubeProxySettings | None) -> KubeProxySettings:
        """These settings with the fields a node pool sets over them."""
        return self if pool is None else self.model_copy(update=set_fields(pool))


class Taint(CamelModel):
    """A node taint, checked as `validateNodeTaints` (pkg/apis/core/validation) checks it."""

    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]

    @field_validator("key")
    @classmethod
    def _key(cls, key: str) -> str:
        return field_errors(labels.validate_label_name(key, field.new_path("key")), key)

    @field_validator("value")
    @classmethod
    def _value(cls, value: str) -> str:
        problems = labels.is_valid_label_value(value)
        if problems:
            raise PydanticCustomError("taint", "{message}", {"message": "; ".join(problems)})
        return value

