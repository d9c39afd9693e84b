"""A live control plane on local Ray (3 etcd members, 3 apiserver replicas behind the
load balancer, HTTPS on 127.0.0.1) driven by kubectl 1.32 and the PyPI `kubernetes`
client, unmodified, with the kubeconfig `kubesim up` writes."""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubesim.components.apiserver import certs
from kubesim.components.apiserver.cluster import (
    ControlPlane,
    admin_token_entry,
    kubeconfig,
    place_control_plane,
    wait_ready,
)

pytestmark = pytest.mark.ray

TOKEN = "live-test-token"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
"""
MULTI = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {color: blue}
---
apiVersion: v1
kind: Pod
metadata:
  name: front-0
  namespace: shop
  labels: {app: front}
spec:
  containers:
  - {name: app, image: busybox:1.36, command: [sleep, "3600"]}
"""


@dataclass
class Live:
    runtime: object
    plane: ControlPlane
    url: str
    kubeconfig: Path
    ca_pem: str
    home: Path

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        binary = shutil.which("kubectl")
        if binary is None:
            pytest.skip("kubectl is not installed")
        out = subprocess.run([binary, "--kubeconfig", str(self.kubeconfig), *args],
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "HOME": str(self.home)})
        if check and out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {out.stderr}")
        return out

    def http(self, method: str, path: str, body: bytes | None = None, token: str | None = TOKEN,
             content_type: str = "application/json") -> tuple[int, dict | str]:
        context = ssl.create_default_context(cadata=self.ca_pem)
        req = urllib.request.Request(self.url + path, data=body, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=context, timeout=30) as resp:
                code, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            code, raw = err.code, err.read()
        try:
            return code, json.loads(raw)
        except ValueError:
            return code, raw.decode()


@pytest.fixture(scope="module")
def live(ray_local, tmp_path_factory) -> Live:
    from kubesim.runtime.ray.runtime import RayRuntime

    tmp = tmp_path_factory.mktemp("live")
    ca = certs.new_ca(time.time())
    serving = certs.new_serving_cert(ca, time.time())
    settings = {"port": 0, "tokens": [admin_token_entry(TOKEN)], "epoch": time.time(),
                "tls_cert": serving.cert_pem, "tls_key": serving.key_pem,
                "watch_cache_upper_bound": 100}
    rt = RayRuntime(seed=1, run_dir=tmp / "run")
    try:
        plane = place_control_plane(rt, apiservers=3, etcd_members=3, settings=settings,
                                    load_balancer_port=0)
        rt.start()
        url = rt.run(lambda r: wait_ready(r, plane))
        path = tmp / "kubeconfig"
        path.write_text(kubeconfig(url, TOKEN, ca.cert_pem))
        (tmp / "home").mkdir()
        yield Live(rt, plane, url, path, ca.cert_pem, tmp / "home")
    finally:
        rt.close()


def test_kubeconfig_is_https_with_the_cluster_ca(live):
    text = live.kubeconfig.read_text()
    assert f"server: {live.url}" in text and live.url.startswith("https://127.0.0.1:")
    ca_data = text.split("certificate-authority-data: ")[1].split()[0]
    assert base64.b64decode(ca_data).decode() == live.ca_pem


def test_kubectl_session(live, tmp_path):
    out = live.kubectl("get", "namespaces").stdout
    assert out.splitlines()[0].split() == ["NAME", "STATUS", "AGE"]
    assert {line.split()[0] for line in out.splitlines()[1:]} >= {
        "default", "kube-node-lease", "kube-public", "kube-system"}

    (tmp_path / "deploy.yaml").write_text(DEPLOYMENT)
    assert live.kubectl("create", "-f", str(tmp_path / "deploy.yaml")).stdout.strip() == \
        "deployment.apps/web created"
    (tmp_path / "multi.yaml").write_text(MULTI)
    applied = live.kubectl("apply", "-f", str(tmp_path / "multi.yaml")).stdout.splitlines()
    assert applied == ["namespace/shop created", "configmap/settings created",
                       "pod/front-0 created"]
    assert live.kubectl("apply", "-f", str(tmp_path / "multi.yaml")).stdout.splitlines() == [
        "namespace/shop unchanged", "configmap/settings unchanged", "pod/front-0 unchanged"]

    pods = live.kubectl("get", "pods", "-n", "shop", "-o", "yaml").stdout
    assert "kind: List" in pods and "name: front-0" in pods and "phase: Pending" in pods

    assert live.kubectl("label", "pod", "front-0", "-n", "shop", "tier=web").stdout.strip() == \
        "pod/front-0 labeled"
    shown = live.kubectl("get", "pods", "-n", "shop", "--show-labels").stdout
    assert "app=front,tier=web" in shown

    assert live.kubectl("scale", "deployment", "web", "--replicas=4").stdout.strip() == \
        "deployment.apps/web scaled"
    assert live.kubectl("get", "deployment", "web", "-o", "jsonpath={.spec.replicas}").stdout == "4"
    wide = live.kubectl("get", "deployments", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS",
                               "IMAGES", "SELECTOR"]
    assert wide[1].split()[:2] == ["web", "0/4"] and wide[1].split()[-3:] == [
        "nginx", "nginx:1.27", "app=web"]

    watch = subprocess.Popen(
        [shutil.which("kubectl") or "kubectl", "--kubeconfig", str(live.kubeconfig), "get",
         "pods", "-n", "shop", "-w", "--request-timeout=0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "HOME": str(live.home)})
    try:
        time.sleep(2.0)  # the watch is open (kubectl listed, then watches from that version)
        live.kubectl("annotate", "pod", "front-0", "-n", "shop", "seen=yes")
        live.kubectl("delete", "pod", "front-0", "-n", "shop", "--wait=false")
        time.sleep(2.0)
    finally:
        watch.terminate()
        watched, _ = watch.communicate(timeout=10)
    lines = watched.splitlines()
    assert lines[0].split()[:3] == ["NAME", "READY", "STATUS"]
    assert len([line for line in lines[1:] if line.startswith("front-0")]) >= 3
    assert any("Terminating" in line for line in lines[1:])

    deleted = live.kubectl("delete", "-f", str(tmp_path / "deploy.yaml")).stdout.strip()
    assert deleted == 'deployment.apps "web" deleted'
    assert live.kubectl("get", "deployment", "web", check=False).stderr.strip() == \
        'Error from server (NotFound): deployments.apps "web" not found'

    # kubectl's typed create commands POST application/vnd.kubernetes.protobuf bodies
    assert live.kubectl("create", "deployment", "api", "--image=nginx:1.27", "--replicas=2",
                        "--port=8080").stdout.strip() == "deployment.apps/api created"
    api = json.loads(live.kubectl("get", "deployment", "api", "-o", "json").stdout)
    assert api["metadata"]["labels"] == {"app": "api"} and api["spec"]["replicas"] == 2
    assert api["spec"]["selector"] == {"matchLabels": {"app": "api"}}
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"], container["ports"]) == (
        "nginx", "nginx:1.27", [{"containerPort": 8080, "protocol": "TCP"}])
    assert live.kubectl("create", "configmap", "flags", "--from-literal=a=b",
                        "--from-literal=c=d").stdout.strip() == "configmap/flags created"
    flags = json.loads(live.kubectl("get", "configmap", "flags", "-o", "json").stdout)
    assert flags["data"] == {"a": "b", "c": "d"} and "immutable" not in flags
    assert live.kubectl("create", "namespace", "team").stdout.strip() == "namespace/team created"
    team = json.loads(live.kubectl("get", "namespace", "team", "-o", "json").stdout)
    assert team["status"]["phase"] == "Active" and team["spec"]["finalizers"] == ["kubernetes"]

    metrics = live.kubectl("get", "--raw", "/metrics").stdout
    for family in ("apiserver_request_total", "apiserver_request_duration_seconds_bucket",
                   "apiserver_current_inflight_requests", "apiserver_storage_objects",
                   "etcd_request_duration_seconds_bucket",
                   "apiserver_flowcontrol_current_limit_seats"):
        assert f"\n{family}{{" in metrics, family


def test_python_kubernetes_client(live):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes import client, config, watch

    api = client.CoreV1Api(config.new_client_from_config(str(live.kubeconfig)))
    assert "default" in [n.metadata.name for n in api.list_namespace().items]
    created = api.create_namespaced_config_map(
        "default", {"metadata": {"name": "py"}, "data": {"n": "0"}})
    start_rv = created.metadata.resource_version
    patched = api.patch_namespaced_config_map("py", "default", {"data": {"n": "1"}})
    assert patched.data == {"n": "1"}
    events = [(e["type"], e["object"].data["n"]) for e in watch.Watch().stream(
        api.list_namespaced_config_map, "default", resource_version=start_rv,
        field_selector="metadata.name=py", timeout_seconds=2)]
    assert events == [("MODIFIED", "1")]  # resumed after start_rv: exactly the later event

    for i in range(2, 130):  # push start_rv out of the watch cache's window of 100
        api.patch_namespaced_config_map("py", "default", {"data": {"n": str(i)}})
    with pytest.raises(kubernetes.client.exceptions.ApiException) as too_old:
        for _ in watch.Watch().stream(api.list_namespaced_config_map, "default",
                                      resource_version=start_rv, timeout_seconds=2):
            pass
    assert too_old.value.status == 410
    assert "too old resource version" in too_old.value.reason

    api.delete_namespaced_config_map("py", "default")
    with pytest.raises(kubernetes.client.exceptions.ApiException) as missing:
        api.read_namespaced_config_map("py", "default")
    assert missing.value.status == 404


def test_bad_input_over_https(live):
    base = "/api/v1/namespaces/default/configmaps"
    code, body = live.http("POST", base, b'{"apiVersion": "v1", "kind": ')
    assert (code, body["reason"]) == (400, "BadRequest")
    code, body = live.http("POST", "/apis/apps/v2/namespaces/default/deployments", b"{}")
    assert (code, body) == (404, "404 page not found\n")
    code, body = live.http("POST", base, json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_Valid"}}).encode())
    assert (code, body["reason"]) == (422, "Invalid")
    code, body = live.http("POST", base, b"x" * (3 * 1024 * 1024 + 10))
    assert (code, body["message"]) == (413, "Request entity too large: limit is 3145728")
    code, body = live.http("GET", base, token=None)
    assert (code, body["reason"]) == (401, "Unauthorized")
    code, body = live.http("GET", base)
    assert code == 200 and "Not_Valid" not in [i["metadata"]["name"] for i in body["items"]]


def test_clients_keep_working_when_a_replica_dies(live):
    """One of three replicas is killed while a writer creates through the balancer: every
    create it acknowledged is stored, and new connections keep working."""
    rt = live.runtime
    victim = live.plane.apiservers[0]
    acked: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            name = f"under-load-{i}"
            try:
                code, _ = live.http("POST", "/api/v1/namespaces/default/configmaps", json.dumps(
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}).encode())
            except OSError:  # the connection broke with the replica: not acknowledged
                code = 0
            if code == 201:
                acked.append(name)
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(acked) < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        rt.run(lambda r: r.crash_actor(victim))

        async def two_healthy(r) -> None:
            async def check() -> bool:
                return len(await r.ask(live.plane.load_balancer, ["healthy"])) == 2

            await r.wait_until(check, 30.0, poll=0.2)

        rt.run(two_healthy)
        after_crash = len(acked)
        deadline = time.monotonic() + 30
        while len(acked) < after_crash + 10 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
    assert len(acked) >= after_crash + 10  # the writer kept going
    code, listed = live.http("GET", "/api/v1/namespaces/default/configmaps")
    assert code == 200
    stored = {item["metadata"]["name"] for item in listed["items"]}
    assert set(acked) <= stored
    for i in range(5):  # every new connection lands on a surviving replica
        assert live.kubectl("create", "configmap", f"after-crash-{i}", "--from-literal=a=b",
                            "--dry-run=client", "-o", "json").returncode == 0
        assert live.http("POST", "/api/v1/namespaces/default/configmaps", json.dumps(
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": f"after-crash-{i}"}}).encode())[0] == 201
    names = live.kubectl("get", "configmaps", "-o", "name").stdout.split()
    assert [n for n in names if n.startswith("configmap/after-crash-")] == [
        f"configmap/after-crash-{i}" for i in range(5)]
    rt.run(lambda r: r.restart_actor(victim))
    rt.run(lambda r: wait_ready(r, live.plane))
