"""Connecting to Ray: a local instance bound to 127.0.0.1, or an existing cluster."""

from __future__ import annotations

import logging
import os

import ray


def ensure_ray(address: str | None = None, *, dashboard: bool = False, num_cpus: int | None = None) -> bool:
    """Connect to Ray unless already connected; returns True when this call started it.

    With no address (and no RAY_ADDRESS), start a local Ray on 127.0.0.1 only, without
    the dashboard unless a job server is needed. Inside `ray job submit`, RAY_ADDRESS is
    set and the job joins its cluster.
    """
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=True)
    else:
        ray.init(
            address="local",  # a new instance, never a `ray start` cluster found on this machine
            _node_ip_address="127.0.0.1",
            include_dashboard=dashboard,
            num_cpus=num_cpus,
            logging_level=logging.WARNING,
            log_to_driver=True,
        )
    return True
