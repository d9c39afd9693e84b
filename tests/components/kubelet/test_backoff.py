"""flowcontrol.Backoff as the kubelet configures it: 10 s doubling to 5 min, reset after
10 min without a new failure."""

from __future__ import annotations

from kubesim.components.kubelet.backoff import Backoff


def test_doubles_to_the_maximum_and_resets_after_twice_the_maximum():
    b = Backoff()
    assert not b.in_backoff_since("k", 0.0, 0.0)
    t = 0.0
    delays = []
    for _ in range(8):
        b.next("k", t, t)
        delays.append(b.get("k"))
        t += b.get("k")
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]
    assert b.in_backoff_since("k", t, t + 299)
    assert not b.in_backoff_since("k", t, t + 300)
    # an event more than 600 s after the last update starts over
    b.next("k", t + 601, t + 601)
    assert b.get("k") == 10


def test_since_update_and_forget():
    b = Backoff()
    b.next("uid_img", 5.0, 5.0)
    assert b.in_backoff_since_update("uid_img", 14.9)
    assert not b.in_backoff_since_update("uid_img", 15.0)
    b.next("uid_other", 5.0, 5.0)
    b.forget_prefix("uid_")
    assert b.get("uid_img") == 0.0 and b.get("uid_other") == 0.0
