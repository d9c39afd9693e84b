"""ResourceList arithmetic and pod request / limit totals."""

from __future__ import annotations

from kubesim.components.apiserver.admission import resource_lists as rl
from tests.components.apiserver.admission.fakes import container, pod


def _json(rlist):
    return rl.to_json(rlist)


def test_set_operations():
    a = rl.parse({"cpu": "500m", "memory": "1Gi"})
    b = rl.parse({"cpu": "700m", "pods": "1"})
    assert _json(rl.add(a, b)) == {"cpu": "1200m", "memory": "1Gi", "pods": "1"}
    assert _json(rl.subtract_non_negative(a, b)) == {"cpu": "0", "memory": "1Gi", "pods": "0"}
    assert _json(rl.mask(a, ["memory", "nope"])) == {"memory": "1Gi"}
    assert rl.less_than_or_equal(b, a) == ["cpu"]
    assert rl.less_than_or_equal(a, rl.add(a, b)) == []
    assert rl.equals(a, rl.parse({"memory": "1024Mi", "cpu": "0.5"}))
    assert not rl.equals(a, rl.mask(a, ["cpu"]))
    assert _json(rl.remove_zeros(rl.parse({"cpu": "0", "pods": "2"}))) == {"pods": "2"}
    assert rl.negative_names(rl.parse({"cpu": "-1", "pods": "1", "memory": "-1Ki"})) == ["cpu", "memory"]
    assert rl.pretty(rl.parse({"pods": "2", "cpu": "1"})) == "cpu=1,pods=2"


def test_pod_requests_sum_containers_and_take_max_of_init_containers():
    sidecar = container("side", requests={"cpu": "100m"}, limits={"cpu": "100m"})
    sidecar["restartPolicy"] = "Always"
    obj = pod(containers=[container("a", requests={"cpu": "200m", "memory": "64Mi"}),
                          container("b", requests={"cpu": "300m"})],
              initContainers=[container("i1", requests={"cpu": "1", "memory": "32Mi"}),
                              sidecar,
                              container("i2", requests={"cpu": "950m"})],
              overhead={"cpu": "10m", "memory": "1Mi"})
    # containers 500m + sidecar 100m = 600m; init max: i1 1000m, i2 950m + sidecar 100m = 1050m
    assert _json(rl.pod_requests(obj)) == {"cpu": "1060m", "memory": "65Mi"}
    assert _json(rl.pod_requests(obj, overhead=False)) == {"cpu": "1050m", "memory": "64Mi"}
    # overhead only where there is a limit
    assert _json(rl.pod_limits(obj)) == {"cpu": "110m"}
