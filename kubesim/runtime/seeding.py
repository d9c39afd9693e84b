"""Derivation of independent, reproducible random streams from one run seed."""

from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *parts: object) -> int:
    """A 64-bit seed for the stream named by `parts`, stable across processes and Python runs."""
    text = "/".join([str(seed), *map(str, parts)]).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def stream(seed: int, *parts: object) -> random.Random:
    """A `random.Random` for the named stream."""
    return random.Random(derive_seed(seed, *parts))
