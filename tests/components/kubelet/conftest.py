"""Fixtures of the kubelet tests."""

from __future__ import annotations

import pytest

from .harness import Cluster


@pytest.fixture
def cluster():
    c = Cluster()
    yield c
    c.close()
