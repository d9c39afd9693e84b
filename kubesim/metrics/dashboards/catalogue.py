"""Every kubesim dashboard, in the order the static report shows them."""

from __future__ import annotations

from kubesim.metrics.dashboards import (
    apiserver,
    cluster,
    controller_manager,
    etcd,
    kube_proxy,
    kubelet,
    scheduler,
    simulator,
)
from kubesim.metrics.dashboards.model import Dashboard

DASHBOARDS: tuple[Dashboard, ...] = (
    cluster.DASHBOARD,
    apiserver.DASHBOARD,
    etcd.DASHBOARD,
    scheduler.DASHBOARD,
    controller_manager.DASHBOARD,
    kubelet.DASHBOARD,
    kube_proxy.DASHBOARD,
    simulator.DASHBOARD,
)
