"""The driver's phase semantics (clusterloader2's instancesStates): more replicas wanted than
exist -> create the missing ones, fewer -> delete the extra ones, as many -> update all; and
a whole config driven against an in-process fake target."""

import asyncio
import shutil
from pathlib import Path

import yaml

from kubesim.loadgen.config import load_config
from kubesim.loadgen.driver import Driver

CONFIGS = Path(__file__).resolve().parents[2] / "loadgen" / "configs"


def _config(tmp_path: Path, phases: list[dict]):
    shutil.copy(CONFIGS / "configmap.yaml", tmp_path / "configmap.yaml")
    data = {"name": "t", "namespace": {"number": 2, "prefix": "ns"},
            "tuningSets": [{"name": "Q", "qpsLoad": {"qps": 10}}],
            "steps": [{"name": f"s{i}", "phases": [p]} for i, p in enumerate(phases)]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(data))
    return load_config(tmp_path / "c.yaml", 1)


def _phase(replicas: int, group: str) -> dict:
    return {"namespaceRange": {"min": 1, "max": 2}, "replicasPerNamespace": replicas, "tuningSet": "Q",
            "objectBundle": [{"basename": "cm", "objectTemplatePath": "configmap.yaml",
                              "templateFillMap": {"Group": group}}]}


class FakeTarget:
    kind = "fake"
    nodes = 1
    description = "fake"

    def __init__(self):
        self.requests = []
        self.t = 0.0

    async def worker(self, op, request=None):
        if op == "progress":
            return {"ok": 0, "errors": 0, "in_flight": 0, "last_error": ""}
        self.requests.append((op, request))
        ops = request.get("ops", request.get("create", []) + request.get("delete", []))
        return {"ok": len(ops), "errors": 0, "error_samples": [], "calls": []}

    async def samples(self, names):
        return []

    def now(self):
        return self.t

    async def sleep(self, seconds):
        self.t += seconds
        await asyncio.sleep(0)


def test_phases_create_update_and_delete(tmp_path):
    config = _config(tmp_path, [_phase(3, "a"), _phase(3, "b"), _phase(1, "b")])
    target = FakeTarget()
    outcome = asyncio.run(Driver(config, target, None, "ns").run())
    ops = [[(o["verb"], o["namespace"], o["name"]) for o in r["ops"]] for op, r in target.requests if op == "phase"]
    assert ops[0] == [("create", ns, f"cm-{i}") for ns in ("ns-1", "ns-2") for i in range(3)]
    assert ops[1] == [("patch", ns, f"cm-{i}") for ns in ("ns-1", "ns-2") for i in range(3)]
    assert ops[2] == [("delete", ns, f"cm-{i}") for ns in ("ns-1", "ns-2") for i in (1, 2)]
    patched = next(r for op, r in target.requests if op == "phase" and r["ops"][0]["verb"] == "patch")
    assert patched["ops"][0]["object"]["metadata"]["labels"] == {"group": "b"}
    assert patched["ops"][0]["object"]["metadata"]["namespace"] == "ns-1"
    assert target.requests[0] == ("namespaces", {"create": ["ns-1", "ns-2"]})
    assert target.requests[-1] == ("namespaces", {"delete": ["ns-1", "ns-2"]})
    assert [s["name"] for s in outcome.steps] == ["s0", "s1", "s2"]
    assert outcome.ops_ok == 6 + 6 + 4 + 2 + 2
