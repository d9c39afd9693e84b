"""The RangeAllocation bitmaps behind Service ClusterIPs and NodePorts: bounds, offsets of
the static lower band, upstream's error texts, and the stored form."""

from __future__ import annotations

import random

import pytest

from kubesim.components.apiserver.storage.ranges import RangeError, ServiceRange


def test_ipv4_bounds_skip_network_and_broadcast():
    r = ServiceRange.cidr("10.96.0.0/12")
    assert (r.first(), r.size, r.offset) == ("10.96.0.1", 2**20 - 2, 256)
    assert r.render(r.size - 1) == "10.111.255.254"
    with pytest.raises(RangeError, match="The range of valid IPs is 10.96.0.0/12"):
        r.offset_of("10.112.0.0")
    with pytest.raises(RangeError):
        r.offset_of("10.96.0.0")


def test_dynamic_allocation_takes_the_upper_band_until_it_is_full():
    r = ServiceRange.cidr("10.0.0.0/24")  # 254 usable, offset 16
    rng = random.Random(1)
    bits = 0
    taken = []
    for _ in range(254 - 16):
        bits, value = r.allocate_next(bits, rng)
        taken.append(r.offset_of(value))
    assert min(taken) == 16 and len(set(taken)) == 254 - 16
    bits, value = r.allocate_next(bits, rng)
    assert r.offset_of(value) < 16
    for _ in range(15):
        bits, _value = r.allocate_next(bits, rng)
    with pytest.raises(RangeError, match="^range is full$"):
        r.allocate_next(bits, rng)
    bits = r.release(bits, "10.0.0.9")
    assert r.allocate_next(bits, rng)[1] == "10.0.0.9"


def test_requested_values_and_the_stored_form():
    ports = ServiceRange.ports("30000-32767")
    assert (ports.size, ports.offset) == (2768, 86)
    bits = ports.allocate(0, 30080)
    with pytest.raises(RangeError, match="^provided port is already allocated$"):
        ports.allocate(bits, "30080")
    with pytest.raises(RangeError, match="^provided port is not in the valid range. The range "
                                         "of valid ports is 30000-32767$"):
        ports.allocate(bits, 80)
    stored = ports.store(None, bits)
    assert stored["kind"] == "RangeAllocation" and stored["range"] == "30000-32767"
    assert ports.bitmap(stored) == bits
    assert ports.release(bits, 80) == bits  # outside the range: nothing to give back
    with pytest.raises(RangeError, match="does not match the current port range"):
        ServiceRange.ports("20000-22767").bitmap(stored)
