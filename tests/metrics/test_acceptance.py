"""Issue 9's acceptance on a real Prometheus: `kubesim.cluster.run_cluster` runs a small
cluster on the ray runtime (3 etcd members, an apiserver, a scheduler, a controller
manager, 6 nodes with kubelet and kube-proxy, the load prober and a Deployment; the
`ServiceLoad` actor adds Services, a scale-up and a second Deployment) while Debian's
Prometheus scrapes it through the file_sd targets the runtime writes. Then every query
of every panel of every dashboard runs through Prometheus' HTTP API over the run and must
return data; every metric a dashboard reads must have been scraped with the labels the
query uses; and the static fallback renders every panel."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from kubesim.cluster import names
from kubesim.cluster.build import admin_token
from kubesim.cluster.run import make_runtime, run_cluster
from kubesim.cluster.topology import plan
from kubesim.metrics.dashboards.catalogue import DASHBOARDS
from kubesim.metrics.dashboards.model import substitute
from kubesim.metrics.prometheus import PrometheusServer
from kubesim.metrics.static import render_panels
from kubesim.specs import parse_spec
from tests.conftest import require_binary
from tests.metrics.cluster import LOAD, place_load, spec
from tests.metrics.promql_names import reads

pytestmark = pytest.mark.ray

DURATION = 25.0  # seconds the cluster runs once bootstrapped
RATE_INTERVAL = "10s"
SCRAPE = 1.0
#: (dashboard uid, panel title, refId) -> why that query has no data in this run
NO_DATA = {
    ("kubesim-apiserver", "Error ratio", "A"): "no request is answered 5xx or 429 in a healthy run",
    ("kubesim-apiserver", "APF rejections", "A"): "flow control rejects nothing at this load",
    ("kubesim-apiserver", "Dropped requests", "A"): "with APF on, the max-inflight filter drops nothing",
    ("kubesim-scheduler", "Preemption victims p99", "A"): "no pod preempts another: all fit",
    ("kubesim-apiserver", "APF requests in queue", "A"): "no request waits in an APF queue at this load",
    ("kubesim-kube-proxy", "Sync duration", "B"): "a kube-proxy's one full sync is its first (then one an "
                                                  "hour): its histogram appears with it, so no rate ever rises",
}
#: metrics a dashboard reads that this run never exposes, and why
NOT_EXPOSED = {
    "apiserver_flowcontrol_rejected_requests_total": "a labelled counter appears with its first rejection",
    "apiserver_dropped_requests_total": "a labelled counter appears with its first dropped request",
    "apiserver_flowcontrol_current_inqueue_requests": "a (priority level, flow schema) appears once one queues",
}


def has_data(series: list[Any]) -> bool:
    return any(math.isfinite(v) for s in series for _t, v in s.points)


@pytest.fixture(scope="module")
def run(ray_local, tmp_path_factory):
    require_binary("prometheus")
    from ray import cloudpickle

    import tests.metrics.cluster

    cloudpickle.register_pickle_by_value(tests.metrics.cluster)  # Ray workers need not import tests
    base = tmp_path_factory.mktemp("dashboards-acceptance")
    cluster = parse_spec(spec("acceptance", DURATION), "acceptance spec")
    rt = make_runtime(cluster, base / "state")
    planned = plan(cluster)
    apiservers = [str(a.address) for a in planned.actors_of(names.APISERVER)]
    token = admin_token(cluster.runtime.seed)
    place_load(rt, apiservers, token)
    server = PrometheusServer(base, [str(base / "state" / "prometheus" / "targets*.json")], "acceptance",
                              scrape_interval=f"{SCRAPE:g}s")
    server.start()
    try:
        start = time.time()
        report = run_cluster(cluster, base, runtime=rt)
        load_done = rt.run(lambda r: r.ask(LOAD, ["done"], timeout=10))
        end = time.time()
        api = server.api()
        results = {}
        for board in DASHBOARDS:
            for panel in board.panels():
                for index, query in enumerate(panel.queries):
                    expr = substitute(query.expr, RATE_INTERVAL)
                    results[(board.uid, panel.title, chr(ord("A") + index))] = (
                        query.expr, api.query_range(expr, start, end, SCRAPE))
        scraped = {}
        for expr, _series in results.values():
            for metric in reads(expr).metrics:
                if metric not in scraped:
                    scraped[metric] = {k for labels in api.series(metric, start, end) for k in labels}
        pages = render_panels(server.url, start, end, base / "static", scrape_interval=SCRAPE)
        yield {"results": results, "scraped": scraped, "pages": pages, "report": report, "load_done": load_done}
    finally:
        server.stop()
        rt.close()


def test_the_run_had_its_load(run):
    assert run["load_done"] is True
    assert run["report"]["nodes"] == 6  # 3 control-plane machines (tainted) and 3 workers


def test_every_query_of_every_panel_returns_data(run):
    empty = {key for key, (_expr, series) in run["results"].items() if not has_data(series)}
    unexpected = sorted(empty - NO_DATA.keys())
    assert not unexpected, "\n".join(f"{key}: {run['results'][key][0]}" for key in unexpected)
    stale = NO_DATA.keys() - empty  # listed as empty, yet it has data: the list is out of date
    assert not stale, stale


def test_every_metric_a_dashboard_reads_was_scraped_with_the_labels_it_uses(run):
    """As Prometheus stored it: the exposition's series plus the target's labels."""
    scraped = run["scraped"]
    problems = {}
    for (uid, title, ref), (expr, _series) in run["results"].items():
        read = reads(expr)
        known: set[str] = set()
        if read.metrics & NOT_EXPOSED.keys():
            continue
        for metric in sorted(read.metrics):
            if not scraped[metric]:
                problems[(uid, title, ref, metric)] = "never scraped"
                continue
            known |= scraped[metric]
            missing = read.matchers.get(metric, set()) - scraped[metric]
            if missing:
                problems[(uid, title, ref, metric)] = f"no labels {sorted(missing)}"
        missing = read.grouping - known
        if missing:
            problems[(uid, title, ref)] = f"groups by {sorted(missing)}, which no metric it reads has"
    assert not problems, "\n".join(f"{key}: {why}" for key, why in sorted(problems.items()))


def test_slo_recording_rules_give_the_slis_a_ratio(run):
    _expr, series = run["results"][("kubesim-cluster", "SLO status", "A")]
    slis = {s.labels["sli"] for s in series if any(math.isfinite(v) for _t, v in s.points)}
    assert {"mutating_api_calls", "read_only_resource", "pod_startup"} <= slis, slis


def test_static_pages_render_every_panel(run):
    index, *pages = run["pages"]
    assert [p.name for p in pages] == [b.filename.replace(".json", ".html") for b in DASHBOARDS]
    for board, page in zip(DASHBOARDS, pages, strict=True):
        text = page.read_text()
        assert text.count('<section class="panel"') == sum(1 for _ in board.panels())
        assert 'class="error"' not in text  # no query Prometheus refused
    assert "kubesim / Simulator" in index.read_text()
