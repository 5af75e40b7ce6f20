"""Merkle trees as RFC 6962 (Certificate Transparency) defines them: roots and inclusion proofs.

Leaves are hex SHA-256 strings (event hashes, batch roots). A leaf is hashed as SHA-256(0x00 || leaf bytes)
and a node as SHA-256(0x01 || left || right), so a leaf can never pass for a node; a tree of n leaves splits
at the largest power of two below n. An inclusion proof is the list of sibling hashes from the leaf up; with
the leaf's index and the tree size it recomputes the root, so one event can be proved part of a checkpoint
without showing any other event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["EMPTY_ROOT", "inclusion_proof", "merkle_root", "root_from_proof"]

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def _leaf(value: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(value)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _root(leaves: Sequence[str]) -> bytes:
    if len(leaves) == 1:
        return _leaf(leaves[0])
    k = _split(len(leaves))
    return _node(_root(leaves[:k]), _root(leaves[k:]))


def merkle_root(leaves: Sequence[str]) -> str:
    """The hex root of the tree over `leaves` (hex SHA-256 strings), in their order."""
    return EMPTY_ROOT if not leaves else _root(leaves).hex()


def inclusion_proof(leaves: Sequence[str], index: int) -> list[str]:
    """Sibling hashes (hex) from leaf `index` up to the root."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} of a tree of {len(leaves)}")
    lo, hi = 0, len(leaves)
    path: list[tuple[bytes, bool]] = []  # (sibling, sibling is on the right)
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append((_root(leaves[lo + k:hi]), True))
            hi = lo + k
        else:
            path.append((_root(leaves[lo:lo + k]), False))
            lo = lo + k
    proof = [sibling for sibling, _ in reversed(path)]
    return [p.hex() for p in proof]


def root_from_proof(leaf: str, index: int, size: int, proof: Sequence[str]) -> str:
    """The root that `leaf` at `index` of a tree of `size` leaves proves with `proof` (RFC 6962 2.1.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} of a tree of {size}")
    sides: list[bool] = []  # sibling on the right, from the root down
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            sides.append(True)
            hi = lo + k
        else:
            sides.append(False)
            lo = lo + k
    if len(sides) != len(proof):
        raise ValueError(f"a proof for leaf {index} of {size} has {len(sides)} hashes, not {len(proof)}")
    digest = _leaf(leaf)
    for sibling, right in zip(proof, reversed(sides), strict=True):
        other = bytes.fromhex(sibling)
        digest = _node(digest, other) if right else _node(other, digest)
    return digest.hex()
