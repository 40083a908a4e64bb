"""RFC 6962 Merkle tree hashing, proofs and their verification, plus the ledger's hash chain.

Pure functions, no database: the same code builds proofs in the service, checks them in tests and
in ``tools/verify_audit.py``, and can be copied by anyone who wants to check our proofs.

Nodes are addressed as ``(level, index)``: the complete subtree of ``2**level`` leaves starting at
leaf ``index << level``. Level 0 is a leaf hash. Every subtree an RFC 6962 proof refers to is a run
of such aligned complete subtrees, so proofs need only stored complete nodes, never a scan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) per RFC 6962 §2.1
CHAIN_START = bytes(HASH_SIZE)  # chain_{-1}

NodeKey = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # leaves [start, end)
# Given node keys, return their hashes (every key must be answered).
NodeLookup = Callable[[set[NodeKey]], Mapping[NodeKey, bytes]]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    """chain_i = SHA-256(chain_{i-1} || leaf_hash_i): a second, order-only witness besides the tree."""
    return hashlib.sha256(previous + leaf).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2): where RFC 6962 splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_tree_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes, straight from the RFC's recursive definition (reference only)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = split_point(len(leaves))
    return node_hash(merkle_tree_hash(leaves[:k]), merkle_tree_hash(leaves[k:]))


def range_nodes(start: int, end: int) -> list[NodeKey]:
    """The complete aligned subtrees whose right fold is MTH(D[start:end]), left to right.

    Valid for every range a proof or a root refers to: those start at a multiple of the smallest
    power of two >= their length, so each greedy "largest power of two" piece is aligned.
    """
    keys: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start % (1 << level):
            raise ValueError(f"range [{start}, {end}) is not one of the tree's subtrees")
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def fold(hashes: Sequence[bytes]) -> bytes:
    """Combine subtree hashes right to left, as MTH nests them (none: the empty tree)."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees of PATH(index, D[size]) (RFC 6962 §2.1.1), nearest the leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    return ranges[::-1]


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The subtrees of PROOF(first, D[second]) (RFC 6962 §2.1.2), in proof order."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    ranges: list[Range] = []
    start, end, m, whole = 0, second, first, True
    while end - start != m:
        k = split_point(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:  # the old tree's root is not itself a node of the new tree: send its last piece
        ranges.append((start, end))
    return ranges[::-1]


def resolve(ranges: Iterable[Range], lookup: NodeLookup) -> list[bytes]:
    """Hash each range from stored complete nodes, fetching all of them in one lookup."""
    plan = [range_nodes(start, end) for start, end in ranges]
    found = lookup({key for keys in plan for key in keys})
    return [fold([found[key] for key in keys]) for keys in plan]


def root_hash(size: int, lookup: NodeLookup) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return resolve([(0, size)], lookup)[0]


def inclusion_proof(index: int, size: int, lookup: NodeLookup) -> list[bytes]:
    return resolve(inclusion_ranges(index, size), lookup)


def consistency_proof(first: int, second: int, lookup: NodeLookup) -> list[bytes]:
    if first == second:
        return []
    return resolve(consistency_ranges(first, second), lookup)


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes) -> bool:
    """RFC 9162 §2.1.4.2 (first == second: an empty proof and equal roots)."""
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


class Frontier:
    """The right edge of a growing tree: the roots of its complete subtrees, largest first.

    That is all appending needs (at most log2(n) hashes), so an append never reads old leaves.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier nodes, got {len(hashes)}")
        self.size = size
        self._stack = list(hashes)

    @staticmethod
    def keys(size: int) -> list[NodeKey]:
        return range_nodes(0, size)

    def append(self, leaf: bytes) -> list[tuple[NodeKey, bytes]]:
        """Add a leaf hash; return the internal nodes it completes, lowest first."""
        index, level = self.size, 0
        self._stack.append(leaf)
        completed: list[tuple[NodeKey, bytes]] = []
        while index & 1:  # a right child: its left sibling is complete, so their parent is too
            right = self._stack.pop()
            parent = node_hash(self._stack.pop(), right)
            self._stack.append(parent)
            index >>= 1
            level += 1
            completed.append(((level, index), parent))
        self.size += 1
        return completed

    def root(self) -> bytes:
        return fold(self._stack) if self._stack else EMPTY_ROOT
