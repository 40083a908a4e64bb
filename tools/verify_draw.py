"""Re-run an expert draw from its published record: ``python -m tools.verify_draw``.

    python -m tools.verify_draw record.json
    python -m tools.verify_draw --url https://expert-pool.example --draw <draw id> --token <bearer token>

The record is what ``GET /draws/{id}/record`` answers once the draw's seed is revealed. This tool
recomputes, from the record alone and following docs/draw.md step by step, the commitment to the
seed, the request digest, the snapshot digest and the whole ordered selection (members and reserves
of every specialty), and compares each with the record. It deliberately imports nothing from the
service: it is a second, independent implementation of the documented procedure.

Prints the recomputed list and OK, or every mismatch. Exit status: 0 the draw checks out, 1 it does
not, 2 the check could not be run (unreadable record, unreachable server, refused token).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
from pathlib import Path
from typing import Any

import httpx

RECORD_FORMAT = "jincheng-draw-record/1"
LABEL = b"jincheng-draw/1"
USAGE_ERROR = 2


class CannotVerify(Exception):
    """The verification could not be run; says why."""


def canonical(value: Any) -> bytes:
    # docs/draw.md §2: sorted keys, no whitespace, UTF-8 without escaping.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def random_below(seed: bytes, request_digest: str, specialty: str, counter: int, bound: int) -> tuple[int, int]:
    """docs/draw.md §3: blocks HMAC-SHA256(seed, label 0 digest 0 specialty 0 counter as 8 bytes
    big-endian) read as 256-bit big-endian integers; those at or above the largest multiple of
    ``bound`` below 2^256 are rejected. Returns the number and the next counter."""
    space = 1 << 256
    limit = space - space % bound
    while True:
        message = b"\x00".join((LABEL, request_digest.encode(), specialty.encode(), counter.to_bytes(8, "big")))
        value = int.from_bytes(hmac.new(seed, message, hashlib.sha256).digest(), "big")
        counter += 1
        if value < limit:
            return value % bound, counter


def recompute(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The selection from the seed, the request digest, the snapshot and the experts set aside."""
    seed = bytes.fromhex(record["seed"])
    lines = record["request"]["request"]["specialties"]
    snapshot = record["snapshot"]
    if [line["specialty"] for line in lines] != [entry["specialty"] for entry in snapshot]:
        raise CannotVerify("the snapshot's specialties are not the request's, in its order")
    skipped = set(record.get("skipped", {}))
    taken: set[str] = set()
    result = []
    for line, entry in zip(lines, snapshot, strict=True):
        wanted = int(line["count"]) + int(line["reserves"])
        items = list(entry["expert_ids"])
        chosen: list[str] = []
        counter = 0
        # Partial Fisher–Yates: step j swaps j with j + below(n - j); the expert landing at j is next.
        for j in range(len(items)):
            if len(chosen) == wanted:
                break
            offset, counter = random_below(seed, record["request_digest"], line["specialty"], counter, len(items) - j)
            items[j], items[j + offset] = items[j + offset], items[j]
            if items[j] not in taken and items[j] not in skipped:
                chosen.append(items[j])
                taken.add(items[j])
        count = int(line["count"])
        result.append({"specialty": line["specialty"], "members": chosen[:count], "reserves": chosen[count:]})
    return result


def check(record: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Every mismatch found (empty when the draw checks out) and the recomputed list."""
    if record.get("format") != RECORD_FORMAT:
        raise CannotVerify(f"not a draw record (format {record.get('format')!r}, expected {RECORD_FORMAT!r})")
    try:
        seed = bytes.fromhex(record["seed"])
        problems = []
        if len(seed) != 32:
            problems.append("the seed is not 32 bytes")
        if hashlib.sha256(seed).hexdigest() != record["commitment"]:
            problems.append("SHA-256(seed) is not the commitment published before the selection")
        if digest(record["request"]) != record["request_digest"]:
            problems.append("the request digest does not match the request")
        if digest(record["snapshot"]) != record["snapshot_sha256"]:
            problems.append("the snapshot digest does not match the snapshot")
        for entry in record["snapshot"]:
            ids = entry["expert_ids"]
            if ids != sorted(set(ids)):
                problems.append(f"snapshot of {entry['specialty']} is not sorted without repeats")
        result = recompute(record)
        if result != record["result"]:
            problems.append("the recomputed selection differs from the recorded result")
        if digest(record["result"]) != record["result_sha256"]:
            problems.append("the result digest does not match the recorded result")
    except (KeyError, TypeError, ValueError) as exc:
        raise CannotVerify(f"malformed record: {exc!r}") from exc
    return problems, result


def fetch(url: str, draw_id: str, token: str, *, transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """``GET {url}/draws/{draw_id}/record`` with the bearer token."""
    try:
        with httpx.Client(base_url=url, timeout=30, transport=transport) as client:
            response = client.get(f"/draws/{draw_id}/record", headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise CannotVerify(f"cannot reach {url}: {exc}") from exc
    if response.status_code != 200:
        raise CannotVerify(f"the server answered {response.status_code}: {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return body


def render(record: dict[str, Any], result: list[dict[str, Any]]) -> str:
    lines = [f"draw {record.get('draw_id')} ({record.get('kind')}) of lot {record.get('lot_id')}"]
    for pick in result:
        lines.append(f"  specialty {pick['specialty']}")
        lines += [f"    member  {n}. {expert}" for n, expert in enumerate(pick["members"], start=1)]
        first = len(pick["members"]) + 1
        lines += [f"    reserve {n}. {expert}" for n, expert in enumerate(pick["reserves"], start=first)]
    return "\n".join(lines)


def main(argv: list[str] | None = None, *, transport: httpx.BaseTransport | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.verify_draw", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("record", nargs="?", type=Path, help="a record saved from GET /draws/{id}/record")
    parser.add_argument("--url", help="the expert pool's base URL")
    parser.add_argument("--draw", help="the draw id")
    parser.add_argument("--token", help="a bearer token allowed to read the record")
    args = parser.parse_args(argv)
    try:
        if args.record is not None:
            if args.url or args.draw or args.token:
                raise CannotVerify("give a record file or --url/--draw/--token, not both")
            try:
                record = json.loads(args.record.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CannotVerify(f"cannot read {args.record}: {exc}") from exc
        elif args.url and args.draw and args.token:
            record = fetch(args.url, args.draw, args.token, transport=transport)
        else:
            raise CannotVerify("give a record file, or all of --url, --draw and --token")
        if not isinstance(record, dict):
            raise CannotVerify("a record is a JSON object")
        problems, result = check(record)
    except CannotVerify as exc:
        print(f"cannot verify: {exc}", file=sys.stderr)
        return USAGE_ERROR
    print(render(record, result))
    if problems:
        for problem in problems:
            print(f"MISMATCH: {problem}")
        return 1
    print("OK: commitment, request, snapshot and the whole ordered list check out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
