"""host-local IPAM over the node's podCIDR."""

from __future__ import annotations

import pytest

from kubesim.components.kubelet.ipam import HostLocalIPAM, IPAMError


def test_skips_the_gateway_goes_round_robin_and_exhausts():
    ipam = HostLocalIPAM("10.244.7.0/29")  # usable .1-.6, .1 is the gateway
    assert ipam.gateway == "10.244.7.1"
    got = [ipam.allocate(f"s{i}") for i in range(5)]
    assert got == [f"10.244.7.{i}" for i in range(2, 7)]
    assert ipam.allocate("s0") == "10.244.7.2"  # idempotent per owner
    with pytest.raises(IPAMError, match="no IP addresses available in range set: 10.244.7.1-10.244.7.6"):
        ipam.allocate("s5")
    ipam.release("s1")
    assert ipam.allocate("s6") == "10.244.7.3"  # the only free one, found after wrapping
    ipam.release("s2")
    ipam.release("s3")
    assert ipam.allocate("s7") == "10.244.7.4"
    assert ipam.in_use() == 4


def test_rejects_non_ipv4_or_tiny_ranges():
    for bad in ("fd00::/64", "10.0.0.0/31"):
        with pytest.raises(ValueError):
            HostLocalIPAM(bad)
