"""Storage on a real (simulated) etcd member: an object over etcd's 1.5 MiB request limit is
refused the way kube-apiserver reports it, and nothing is stored."""

from __future__ import annotations

import random

import pytest

from kubesim.api.status import APIError
from kubesim.components.apiserver.storage import ResourceStore
from tests.components.apiserver.storage.helpers import EPOCH, kind, pod
from tests.components.etcd.cluster_helpers import client, client_address, sim_cluster


def test_object_over_the_etcd_request_limit_is_a_500_with_etcds_message():
    rt, _ = sim_cluster(seed=4, size=1)
    with rt:
        async def main(r):
            ctx = rt.actor(client_address(0)).ctx
            store = ResourceStore(kind("pods"), client(rt), now=lambda: EPOCH + ctx.now(),
                                  rng=random.Random(1))
            big = pod("big")
            big["spec"]["containers"][0]["env"] = [{"name": "BLOB", "value": "x" * 1_600_000}]
            with pytest.raises(APIError) as info:
                await store.create("default", big)
            listed = await store.list("")
            small = await store.create("default", pod("small"))
            return info.value, listed, small

        err, listed, small = rt.run(main)

    # etcdserver: request is too large is not a Status error: ErrorToAPIStatus makes it a 500
    # with no reason, which kubectl prints as "Error from server: etcdserver: request is too large"
    assert err.status == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                          "status": "Failure", "message": "etcdserver: request is too large",
                          "code": 500}
    assert listed["items"] == [] and small["metadata"]["name"] == "small"
