"""Shared fixtures: one local Ray (127.0.0.1 only) for the whole session, started on first use."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def ray_local():
    import ray
    from ray import cloudpickle

    import tests.runtime.helpers
    from kubesim.runtime.ray.local import ensure_ray

    # test actors travel by value: Ray workers need not import the tests package
    cloudpickle.register_pickle_by_value(tests.runtime.helpers)
    started = ensure_ray(num_cpus=2)
    yield ray
    if started:
        ray.shutdown()


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (make test installs it with apt-get when run as root)")
    return path
