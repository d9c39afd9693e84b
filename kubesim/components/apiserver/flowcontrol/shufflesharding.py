"""Shuffle sharding as kube-apiserver does it (k8s.io/apiserver/pkg/util/shufflesharding).

A flow is identified by (FlowSchema name, flow distinguisher); its 64-bit hash is the
first eight bytes, little-endian, of SHA-256(fsName + "\\x00" + distinguisher). The
Dealer turns that hash into a hand of `hand_size` distinct queue indices out of
`deck_size`, by mixed-radix decomposition followed by the "skip already dealt cards"
adjustment.
"""

from __future__ import annotations

import hashlib
import math

MAX_HASH_BITS = 60
_UINT64 = (1 << 64) - 1


def required_entropy_bits(deck_size: int, hand_size: int) -> int:
    """Bits of hash consumed when dealing `hand_size` cards from a deck of `deck_size`."""
    return math.ceil(math.log2(deck_size) * hand_size)


class Dealer:
    """Deals hands of distinct cards in [0, deck_size) from a 64-bit hash value."""

    def __init__(self, deck_size: int, hand_size: int) -> None:
        if deck_size <= 0 or hand_size <= 0:
            raise ValueError(f"deckSize {deck_size} or handSize {hand_size} is not positive")
        if hand_size > deck_size:
            raise ValueError(f"handSize {hand_size} is greater than deckSize {deck_size}")
        if deck_size > 1 << 26:
            raise ValueError(f"deckSize {deck_size} is impractically large")
        if required_entropy_bits(deck_size, hand_size) > MAX_HASH_BITS:
            raise ValueError(
                f"required entropy bits of deckSize {deck_size} and handSize {hand_size} "
                f"is greater than {MAX_HASH_BITS}"
            )
        self.deck_size = deck_size
        self.hand_size = hand_size

    def deal(self, hash_value: int) -> list[int]:
        """The hand for `hash_value`, in dealing order."""
        remainders: list[int] = []
        value = hash_value & _UINT64
        for i in range(self.hand_size):
            value, remainder = divmod(value, self.deck_size - i)
            remainders.append(remainder)
        hand: list[int] = []
        for i, card in enumerate(remainders):
            for j in range(i, 0, -1):
                if card >= remainders[j - 1]:
                    card += 1
            hand.append(card)
        return hand


def hash_flow_id(flow_schema: str, distinguisher: str) -> int:
    """The 64-bit flow hash kube-apiserver computes (hashFlowID)."""
    digest = hashlib.sha256(flow_schema.encode() + b"\x00" + distinguisher.encode()).digest()
    return int.from_bytes(digest[:8], "little")
