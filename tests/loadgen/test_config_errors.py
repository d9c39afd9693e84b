"""Bad configs: one clear error naming the field (with its path), exit 2, nothing created."""

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from kubesim.cli import main
from kubesim.loadgen.config import ConfigError, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "loadgen" / "configs"


def _config(tmp_path: Path, mutate) -> Path:
    """density.yaml rendered for 3 nodes, changed by `mutate`, beside its templates."""
    for template in CONFIGS.glob("*.yaml"):
        if template.name != "density.yaml":
            shutil.copy(template, tmp_path / template.name)
    data = yaml.safe_load((CONFIGS / "density.yaml").read_text().split("\n\n", 1)[1]
                          .replace("{{$namespaces}}", "1").replace("{{$podsPerNamespace}}", "3")
                          .replace("{{$latencyPerNamespace}}", "1").replace("{{$SATURATION_QPS}}", "20")
                          .replace("{{$LATENCY_QPS}}", "5").replace("{{$SCHEDULER_THROUGHPUT_THRESHOLD}}", "0")
                          .replace("{{$POD_STARTUP_THRESHOLD}}", "5s"))
    data["cluster"]["nodePools"][0]["count"] = 3
    mutate(data)
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_the_shipped_configs_load():
    for name in ("density.yaml", "load.yaml", "services-at-scale.yaml"):
        config = load_config(CONFIGS / name, 100)
        assert config.model.steps


def test_a_valid_variant_loads(tmp_path):
    load_config(_config(tmp_path, lambda d: None), 3)


def _unknown_measurement(d):
    d["steps"][0]["measurements"][1]["Method"] = "EtcdMetricz"


def _unset_param(d):
    del d["steps"][1]["phases"][0]["objectBundle"][0]["templateFillMap"]["Replicas"]


def _negative_qps(d):
    d["tuningSets"][0]["qpsLoad"]["qps"] = -5


def _bad_param(d):
    d["steps"][0]["measurements"][3]["Params"]["threshold"] = -1


@pytest.mark.parametrize("mutate, expected", [
    (_unknown_measurement, r"steps\[0\]\.measurements\[1\]\.Method: unknown measurement 'EtcdMetricz'"),
    (_unset_param, r"steps\[1\]\.phases\[0\]\.objectBundle\[0\]\.templateFillMap: deployment\.yaml: "
                   r"line \d+: parameter \.Replicas is not set"),
    (_negative_qps, r"tuningSets\[0\]\.qpsLoad\.qps: Input should be greater than 0"),
    (_bad_param, r"steps\[0\]\.measurements\[3\]\.Params\.threshold: must not be negative"),
])
def test_bad_config_is_one_error_with_its_path(tmp_path, mutate, expected):
    path = _config(tmp_path, mutate)
    with pytest.raises(ConfigError, match=expected):
        load_config(path, 3)


@pytest.mark.parametrize("mutate", [_unknown_measurement, _unset_param, _negative_qps])
def test_cli_exits_2_and_starts_nothing_on_sim(tmp_path, capsys, mutate):
    path = _config(tmp_path, mutate)
    out = tmp_path / "out"
    assert main(["load", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"kubesim: error: {path}: ")
    assert not out.exists()  # no runtime state, no result: nothing was built


class _Recorder(BaseHTTPRequestHandler):
    requests: list[tuple[str, str]] = []

    def do_GET(self):  # noqa: N802
        self.requests.append(("GET", self.path))
        body = json.dumps({"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
                           "items": [{"metadata": {"name": f"n{i}"}, "spec": {}} for i in range(3)]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802
        self.requests.append(("POST", self.path))
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("mutate", [_unknown_measurement, _unset_param, _negative_qps])
def test_cli_exits_2_and_creates_nothing_over_http(tmp_path, capsys, mutate):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
        path = _config(tmp_path, mutate)
        assert main(["load", str(path), "--kubeconfig", str(kubeconfig), "--out", str(tmp_path / "out")]) == 2
        assert "kubesim: error:" in capsys.readouterr().err
        assert _Recorder.requests == [("GET", "/api/v1/nodes")]  # it counted the nodes, and wrote nothing
    finally:
        server.shutdown()
