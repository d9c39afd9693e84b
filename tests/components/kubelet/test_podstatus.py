"""getPhase and the conditions for container status combinations the kubelet reports."""

from __future__ import annotations

import pytest

from kubesim.components.kubelet.podstatus import get_phase

RUNNING = {"running": {"startedAt": "t"}}
WAITING = {"waiting": {"reason": "ContainerCreating"}}


def term(code):
    return {"terminated": {"exitCode": code}}


def pod(policy="Always", init=()):
    spec = {"restartPolicy": policy, "containers": [{"name": "a"}, {"name": "b"}]}
    if init:
        spec["initContainers"] = [{"name": n, **({"restartPolicy": "Always"} if n.startswith("side") else {})}
                                  for n in init]
    return {"spec": spec}


def st(name, state, last=None, started=False):
    return {"name": name, "state": state, "lastState": last or {}, "started": started}


@pytest.mark.parametrize("policy, a, b, terminal, expect", [
    ("Always", RUNNING, RUNNING, False, "Running"),
    ("Always", RUNNING, WAITING, False, "Pending"),
    ("Always", st("a", {"waiting": {"reason": "CrashLoopBackOff"}}, term(1)), RUNNING, False, "Running"),
    ("Always", term(0), term(1), False, "Running"),  # all restarting
    ("Always", term(0), term(1), True, "Failed"),  # terminating: no restart
    ("Always", term(0), term(0), True, "Succeeded"),
    ("Never", term(0), term(0), False, "Succeeded"),
    ("Never", term(0), term(2), False, "Failed"),
    ("OnFailure", term(0), term(2), False, "Running"),
    ("OnFailure", term(0), term(0), False, "Succeeded"),
])
def test_phase_of_regular_containers(policy, a, b, terminal, expect):
    statuses = [s if "name" in s else st(n, s) for n, s in (("a", a), ("b", b))]
    assert get_phase(pod(policy), [], statuses, terminal) == expect


def test_phase_with_init_containers():
    waiting = [st("a", WAITING), st("b", WAITING)]
    assert get_phase(pod(init=["i"]), [st("i", RUNNING)], waiting, False) == "Pending"
    assert get_phase(pod("Never", init=["i"]), [st("i", term(1))], waiting, False) == "Failed"
    assert get_phase(pod("Always", init=["i"]), [st("i", WAITING, term(1))], waiting, False) == "Pending"
    # a sidecar that started counts as running once the regular containers run
    running = [st("a", RUNNING), st("b", RUNNING)]
    assert get_phase(pod(init=["side"]), [st("side", RUNNING, started=True)], running, False) == "Running"
    assert get_phase(pod(init=["side"]), [st("side", RUNNING, started=False)], waiting, False) == "Pending"
