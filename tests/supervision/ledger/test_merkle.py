"""RFC 6962 hashing and proofs: the RFC's published vectors, then every shape of tree up to 70 leaves."""

from __future__ import annotations

import hashlib

import pytest

from services.supervision.ledger import merkle

# The Certificate Transparency reference vectors for RFC 6962 (leaf inputs and roots of sizes 0..8).
CT_INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (0-based leaf index, tree size, audit path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CT_CONSISTENCY = [  # (first, second, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
MAX_SIZE = 70

CT_LEAVES = [merkle.leaf_hash(bytes.fromhex(data)) for data in CT_INPUTS]
LEAVES = [merkle.leaf_hash(f"event {i}".encode()) for i in range(MAX_SIZE)]


def lookup_from(leaves: list[bytes]) -> merkle.NodeLookup:
    """Node hashes as the database would store them, computed by the RFC's definition; records lookups."""

    def lookup(keys: set[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
        lookup.calls.append(keys)  # type: ignore[attr-defined]
        for level, index in keys:
            assert (index + 1) << level <= len(leaves), "a proof asked for an incomplete subtree"
        return {(lv, i): merkle.merkle_tree_hash(leaves[i << lv : (i + 1) << lv]) for lv, i in keys}

    lookup.calls = []  # type: ignore[attr-defined]
    return lookup


def flip(value: bytes) -> bytes:
    return bytes([value[0] ^ 1]) + value[1:]


def test_hash_prefixes_and_empty_root():
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert merkle.node_hash(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()
    assert merkle.EMPTY_ROOT.hex() == CT_ROOTS[0]
    assert merkle.chain_hash(merkle.CHAIN_START, b"h") == hashlib.sha256(bytes(32) + b"h").digest()


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_roots_match_the_reference_vectors(size):
    leaves = CT_LEAVES[:size]
    assert merkle.merkle_tree_hash(leaves).hex() == CT_ROOTS[size]
    assert merkle.root_hash(size, lookup_from(leaves)).hex() == CT_ROOTS[size]
    frontier = merkle.Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    assert frontier.root().hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_inclusion_proofs_match_the_reference_vectors(index, size, path):
    proof = merkle.inclusion_proof(index, size, lookup_from(CT_LEAVES))
    assert [p.hex() for p in proof] == path
    assert merkle.verify_inclusion(index, size, CT_LEAVES[index], proof, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("first", "second", "path"), CT_CONSISTENCY)
def test_consistency_proofs_match_the_reference_vectors(first, second, path):
    proof = merkle.consistency_proof(first, second, lookup_from(CT_LEAVES))
    assert [p.hex() for p in proof] == path
    roots = [bytes.fromhex(r) for r in CT_ROOTS]
    assert merkle.verify_consistency(first, second, proof, roots[first], roots[second])


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_every_inclusion_proof_verifies_and_no_tampered_one_does(size):
    leaves = LEAVES[:size]
    root = merkle.merkle_tree_hash(leaves)
    lookup = lookup_from(leaves)
    for index in range(size):
        proof = merkle.inclusion_proof(index, size, lookup)
        assert merkle.verify_inclusion(index, size, leaves[index], proof, root)
        assert not merkle.verify_inclusion(index, size, flip(leaves[index]), proof, root)
        assert not merkle.verify_inclusion(index, size, leaves[index], proof, flip(root))
        for i in range(len(proof)):
            bad = [*proof[:i], flip(proof[i]), *proof[i + 1 :]]
            assert not merkle.verify_inclusion(index, size, leaves[index], bad, root)
        assert not merkle.verify_inclusion(index, size, leaves[index], [*proof, root], root)
        if proof:
            assert not merkle.verify_inclusion(index, size, leaves[index], proof[:-1], root)
        if size > 1:
            other = (index + 1) % size
            assert not merkle.verify_inclusion(other, size, leaves[index], proof, root)
    assert not merkle.verify_inclusion(size, size, leaves[0], [], root)


@pytest.mark.parametrize("second", range(1, MAX_SIZE + 1))
def test_every_consistency_proof_verifies_and_no_tampered_one_does(second):
    leaves = LEAVES[:second]
    lookup = lookup_from(leaves)
    second_root = merkle.merkle_tree_hash(leaves)
    for first in range(1, second + 1):
        first_root = merkle.merkle_tree_hash(leaves[:first])
        proof = merkle.consistency_proof(first, second, lookup)
        assert merkle.verify_consistency(first, second, proof, first_root, second_root)
        assert not merkle.verify_consistency(first, second, proof, flip(first_root), second_root)
        assert not merkle.verify_consistency(first, second, proof, first_root, flip(second_root))
        for i in range(len(proof)):
            bad = [*proof[:i], flip(proof[i]), *proof[i + 1 :]]
            assert not merkle.verify_consistency(first, second, bad, first_root, second_root)
        assert not merkle.verify_consistency(first, second, [*proof, second_root], first_root, second_root)
        if proof:
            assert not merkle.verify_consistency(first, second, proof[:-1], first_root, second_root)
        # (Tree sizes are bound by the signed tree heads the roots come from, not by the proof.)
    assert not merkle.verify_consistency(0, second, [], merkle.EMPTY_ROOT, second_root)
    assert not merkle.verify_consistency(second + 1, second, [], second_root, second_root)


def test_incremental_append_completes_exactly_the_complete_subtrees():
    frontier = merkle.Frontier()
    stored: dict[merkle.NodeKey, bytes] = {}
    for size, leaf in enumerate(LEAVES, start=1):
        stored.update(frontier.append(leaf))
        expected = {
            (level, index)
            for level in range(1, size.bit_length())
            for index in range(size >> level)  # complete aligned subtrees only
        }
        assert set(stored) == expected
        assert frontier.root() == merkle.merkle_tree_hash(LEAVES[:size])
    for (level, index), node in stored.items():
        assert node == merkle.merkle_tree_hash(LEAVES[index << level : (index + 1) << level])


def test_a_frontier_resumes_from_stored_nodes():
    lookup = lookup_from(LEAVES)
    for size in range(MAX_SIZE):
        keys = merkle.Frontier.keys(size)
        found = lookup(set(keys))
        resumed = merkle.Frontier(size, [found[k] for k in keys])
        for leaf in LEAVES[size:]:
            resumed.append(leaf)
        assert resumed.root() == merkle.merkle_tree_hash(LEAVES)
    with pytest.raises(ValueError, match="frontier nodes"):
        merkle.Frontier(3, [LEAVES[0]])


def test_proofs_need_few_lookups_even_for_a_million_leaves():
    """O(log² n) nodes fetched in one lookup; never the leaves themselves."""
    size = 1_000_003
    for index in (0, 1, 524_287, 999_999, size - 1):
        keys = {k for r in merkle.inclusion_ranges(index, size) for k in merkle.range_nodes(*r)}
        assert len(keys) <= 20 * 20
    keys = {k for r in merkle.consistency_ranges(777_777, size) for k in merkle.range_nodes(*r)}
    assert len(keys) <= 20 * 20
    calls = lookup_from(LEAVES)
    merkle.inclusion_proof(5, MAX_SIZE, calls)
    assert len(calls.calls) == 1  # type: ignore[attr-defined]


def test_out_of_range_requests_are_refused():
    lookup = lookup_from(LEAVES)
    with pytest.raises(ValueError, match="not in a tree"):
        merkle.inclusion_proof(5, 5, lookup)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_proof(6, 5, lookup)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_proof(0, 5, lookup)
    with pytest.raises(ValueError, match="not one of the tree's subtrees"):
        merkle.range_nodes(1, 3)
    assert merkle.consistency_proof(4, 4, lookup) == []
