"""The apiserver under pressure on the sim runtime: flow control answering 429 with
Retry-After, APF queueing, watches resumed from a resourceVersion and a too-old one
answered with 410, and etcd compaction by the apiserver."""

from __future__ import annotations

import asyncio

from tests.components.apiserver.rest.clusters import (
    call,
    client,
    configmap,
    request,
    sim_control_plane,
)

BASE = "/api/v1/namespaces/default/configmaps"


def burst(rt, api, n: int) -> list[dict]:
    async def go(rt):
        reqs = [request("GET", BASE) for _ in range(n)]
        return await asyncio.gather(*(rt.ask(api, ["request", r]) for r in reqs))

    return rt.run(go)


def test_max_in_flight_rejects_with_429_and_retry_after():
    rt, plane = sim_control_plane(seed=5, settings={"enable_priority_and_fairness": False,
                                                    "max_requests_inflight": 2})
    api = plane.apiservers[0]
    try:
        answers = burst(rt, api, 12)
        codes = [a["code"] for a in answers]
        assert codes.count(200) >= 2 and codes.count(429) >= 1
        rejected = next(a for a in answers if a["code"] == 429)
        assert rejected["headers"]["Retry-After"] == "1"
        assert rejected["body"]["message"] == "Too many requests, please try again later."
        assert rejected["body"]["details"] == {"retryAfterSeconds": 1}
        text = call(rt, api, "GET", "/metrics")["body"]
        assert ('apiserver_dropped_requests_total{instance="apiserver-0",job="apiserver",'
                f'request_kind="readOnly"}} {float(codes.count(429))}') in text
    finally:
        rt.close()


def test_priority_and_fairness_queues_instead_of_rejecting():
    # ServerCL 4 split over the priority levels: the global-default level gets one seat
    rt, plane = sim_control_plane(seed=6, settings={"max_requests_inflight": 2,
                                                    "max_mutating_requests_inflight": 2})
    api = plane.apiservers[0]
    try:
        answers = burst(rt, api, 8)
        assert [a["code"] for a in answers] == [200] * 8
        text = call(rt, api, "GET", "/metrics")["body"]
        def total(series: str) -> float:
            return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith(f"apiserver_flowcontrol_request_wait_duration_seconds_{series}")
                       and 'execute="true"' in line and 'flow_schema="global-default"' in line)

        assert total("count") >= 8 and total("sum") > 0  # some of them waited in a queue
        assert 'apiserver_flowcontrol_dispatched_requests_total{flow_schema="global-default"' in text
    finally:
        rt.close()


def test_watch_resumes_from_a_resource_version_and_a_too_old_one_gets_410():
    rt, plane = sim_control_plane(seed=7, settings={"watch_cache_upper_bound": 100})
    api = plane.apiservers[0]
    watcher = client(rt)
    try:
        first = call(rt, api, "POST", BASE, configmap("busy", n="0"))["body"]
        versions = [first["metadata"]["resourceVersion"]]
        for i in range(1, 131):
            r = call(rt, api, "PATCH", f"{BASE}/busy", {"data": {"n": str(i)}},
                     content_type="application/merge-patch+json")
            versions.append(r["body"]["metadata"]["resourceVersion"])

        async def watch_from(rt, rv: str) -> int:
            reply = await watcher.ctx.call(api, ["request", request(
                "GET", BASE, query={"watch": "1", "resourceVersion": rv})])
            await rt.sleep(1.0)
            watcher.ctx.send(api, ["watch_stop", reply["watch_id"]])
            await rt.sleep(0.5)
            return reply["watch_id"]

        recent = rt.run(lambda rt: watch_from(rt, versions[-4]))
        seen = [e["object"]["data"]["n"] for e in watcher.events[recent]]
        assert seen == ["128", "129", "130"]
        old = rt.run(lambda rt: watch_from(rt, versions[0]))
        [error] = watcher.events[old]
        assert error["type"] == "ERROR"
        assert error["object"]["code"] == 410 and error["object"]["reason"] == "Expired"
        assert error["object"]["message"].startswith(f"too old resource version: {versions[0]} (")
        assert old in watcher.ended
    finally:
        rt.close()


def test_apiserver_compacts_etcd_every_interval():
    rt, plane = sim_control_plane(seed=8, settings={"etcd_compaction_interval": 10.0})
    api = plane.apiservers[0]
    try:
        created = call(rt, api, "POST", BASE, configmap("compacted"))["body"]
        old_rv = created["metadata"]["resourceVersion"]
        call(rt, api, "PATCH", f"{BASE}/compacted", {"data": {"x": "1"}},
             content_type="application/merge-patch+json")
        rt.run_for(25.0)  # two intervals: the first records a revision, the second compacts it
        r = call(rt, api, "GET", BASE, query={"resourceVersion": old_rv,
                                              "resourceVersionMatch": "Exact"})
        assert r["code"] == 410 and r["body"]["reason"] == "Expired"
    finally:
        rt.close()


def test_request_timeout_is_504():
    rt, plane = sim_control_plane(seed=9, settings={"request_timeout": 1e-6})
    api = plane.apiservers[0]
    try:
        r = call(rt, api, "GET", BASE)
        assert r["code"] == 504 and r["body"]["reason"] == "Timeout"
        assert r["body"]["message"] == ("Timeout: request did not complete within requested "
                                        "timeout - context deadline exceeded")
    finally:
        rt.close()
