"""A pytest fixture: a real etcd 3.4 (/usr/bin/etcd) on free 127.0.0.1 ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesim.testing.etcd_clusters import real_etcd_cluster
from tests.conftest import require_binary


@pytest.fixture
def real_etcd(tmp_path: Path) -> Iterator[str]:
    """The client URL of a fresh single-member etcd, stopped afterwards."""
    with real_etcd_cluster(require_binary("etcd"), 1, tmp_path) as urls:
        yield urls[0]
