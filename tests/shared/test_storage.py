"""The content-addressed blob store: hashed while streamed, stored once, nothing left on refusal."""

from __future__ import annotations

import hashlib
import shutil
import threading

import pytest

from shared.errors import ApiError
from shared.storage import BlobStore, LocalBlobStore, PayloadTooLarge, StoredBlob


def test_put_hashes_streams_and_addresses_by_content(tmp_path):
    store = LocalBlobStore(tmp_path)
    data = [b"tender ", b"documents ", "招标文件".encode()]
    blob = store.put(iter(data), max_bytes=1024)
    whole = b"".join(data)
    assert blob == StoredBlob(sha256=hashlib.sha256(whole).hexdigest(), size=len(whole))
    path = tmp_path / blob.sha256[:2] / blob.sha256[2:4] / blob.sha256
    assert path.read_bytes() == whole
    assert store.exists(blob.sha256)
    assert b"".join(store.open(blob.sha256)) == whole
    assert list(store.tmp_dir.iterdir()) == []


def test_directories_are_made_when_missing_even_after_they_were_there(tmp_path):
    """The store makes its directories only when a write finds one missing (no mkdir per upload):
    a store whose directories were removed, or never made, still takes blobs."""
    store = LocalBlobStore(tmp_path / "store")
    first = store.put([b"one"], max_bytes=10)
    shutil.rmtree(tmp_path / "store")
    again = store.put([b"one"], max_bytes=10)
    other = store.put([b"two"], max_bytes=10)
    assert again == first and store.path(first.sha256).read_bytes() == b"one"
    assert store.path(other.sha256).read_bytes() == b"two"
    assert list(store.tmp_dir.iterdir()) == []


def test_same_content_is_stored_once(tmp_path):
    store = LocalBlobStore(tmp_path)
    first = store.put([b"abc", b"def"], max_bytes=10)
    second = store.put([b"abcdef"], max_bytes=10)
    assert first == second
    stored = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert stored == [store.path(first.sha256)]


def test_open_reads_in_chunks(tmp_path):
    store = LocalBlobStore(tmp_path, chunk_size=4)
    blob = store.put([b"0123456789"], max_bytes=100)
    assert list(store.open(blob.sha256)) == [b"0123", b"4567", b"89"]


def test_refuses_past_the_cap_without_reading_on_and_leaves_nothing(tmp_path):
    store = LocalBlobStore(tmp_path)
    pulled = []

    def chunks():
        for n in range(1000):
            pulled.append(n)
            yield b"x" * 100

    with pytest.raises(PayloadTooLarge) as refused:
        store.put(chunks(), max_bytes=250)
    assert isinstance(refused.value, ApiError)
    assert (refused.value.status_code, refused.value.code) == (413, "payload_too_large")
    assert len(pulled) == 3  # stopped at the chunk that crossed the cap
    assert list(store.tmp_dir.iterdir()) == []
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_exactly_the_cap_is_accepted(tmp_path):
    assert LocalBlobStore(tmp_path).put([b"x" * 8], max_bytes=8).size == 8


def test_a_failing_source_leaves_nothing(tmp_path):
    store = LocalBlobStore(tmp_path)

    def broken():
        yield b"part"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.put(broken(), max_bytes=100)
    assert list(store.tmp_dir.iterdir()) == []


def test_names_must_be_sha256(tmp_path):
    store = LocalBlobStore(tmp_path)
    for bad in ("../../etc/passwd", "ABC", "0" * 63, "g" * 64, "A" * 64):
        with pytest.raises(ValueError, match="SHA-256"):
            store.exists(bad)
    assert store.exists("0" * 64) is False
    with pytest.raises(FileNotFoundError):
        next(store.open("0" * 64))


def test_concurrent_puts_of_the_same_content(tmp_path):
    store = LocalBlobStore(tmp_path)
    results: list[StoredBlob] = []

    def put() -> None:
        results.append(store.put([b"same" * 1000], max_bytes=10_000))

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    assert b"".join(store.open(results[0].sha256)) == b"same" * 1000
    assert list(store.tmp_dir.iterdir()) == []


def test_local_store_satisfies_the_protocol(tmp_path):
    store: BlobStore = LocalBlobStore(tmp_path)
    assert store.exists(store.put([b"x"], max_bytes=1).sha256)
