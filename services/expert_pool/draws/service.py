"""Drawing committees, sealing them, replacing members, and revealing the list when the result is
decided. docs/draw.md describes the procedure; this module carries it out.

A draw runs in three steps so that no transaction stays open while supervision is asked:

1. **Commit.** A fresh 32-byte seed is drawn (``secrets``) and the draw row with ``SHA-256(seed)``
   and the audit event ``draw.committed`` are committed on their own. From here the seed is fixed
   and in the audit trail, before anyone (the selector included) knows the eligible snapshot.
2. **Snapshot and credit.** The eligible experts are computed (a read, then the transaction ends):
   that is the snapshot. The draw is walked as far as it needs (plus a margin) and supervision is
   asked about everyone reached, in batches, with no transaction open; those banned are set aside.
   If supervision cannot answer: 503, the draw stays ``committed`` and nothing is recorded as
   drawn; a retry with the same ``Idempotency-Key`` resumes it with the *same* seed.
3. **Select.** Under a lock that serialises selections (so two draws for overlapping evaluations
   cannot both take one expert), everyone the walk reaches is judged again as of now (the pool may
   have changed since step 2) and set aside if no longer eligible, until all reached are eligible.
   Should the walk reach someone supervision was not asked about, the transaction is dropped and
   step 2's question is asked about them too. The snapshot, the experts set aside, the result, the
   assignments, the notifications owed and ``draw.sealed`` are written together: what is written is
   exactly what the selection used.

Functions for the evaluation (``services/expert_pool/evaluation``): :func:`accepted_committee`,
:func:`reveal`, :func:`reveal_for_lot`, :func:`void_for_lot`, :func:`mark_no_show`.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.expert_pool.audit import emit
from services.expert_pool.draws import credit, errors, fairness, notifications
from services.expert_pool.draws.eligibility import Criteria, LineEligibility, eligibility, recheck
from services.expert_pool.draws.models import Draw, DrawAssignment, DrawSnapshot
from services.expert_pool.draws.rules import check_request, request_document, utc_text
from services.expert_pool.draws.schemas import (
    AssignmentOut,
    CommitteeEntryOut,
    CommitteeOut,
    DrawDetail,
    DrawRecord,
    RedrawIn,
    SupplementaryIn,
    VerifyOut,
)
from services.expert_pool.registry.models import Expert, Specialty
from services.expert_pool.settings import ExpertPoolSettings
from shared.auth import Principal, ensure_platform_access
from shared.clients.supervision import SupervisionClient
from shared.contracts.experts import DrawRequest, DrawSummary
from shared.db import db_now, db_today, insert_new
from shared.errors import Conflict, NotFound

KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Selections run one at a time (transaction-level advisory lock): each takes tens of milliseconds,
# and serialising them is what keeps one expert out of two overlapping committees.
_SELECTION_LOCK = 0x6A63_6472  # "jcdr"
# How far past what the selection needs credit is asked for at once, so that experts excluded in
# the moment between asking and selecting rarely force a second round.
CREDIT_MARGIN = 10
MAX_ROUNDS = 8
LIVE = ("sealed", "revealed")
ANSWERED = ("pending", "accepted")


# -- what the evaluation imports ------------------------------------------------------------------


@dataclass(frozen=True)
class CommitteeMember:
    """An expert who accepted a seat on the lot's committee."""

    expert_id: uuid.UUID
    name: str
    specialty: str
    venue_id: uuid.UUID | None
    assignment_id: uuid.UUID


def accepted_committee(session: Session, lot_id: uuid.UUID) -> list[CommitteeMember]:
    """The accepted members of the lot's current committee: its live (sealed or revealed) initial or
    re-draw and that draw's live supplementary draws, in draw order (draw, specialty line, position).
    Empty when the lot has no live draw. Reads only; no access check (the caller's endpoint has one)."""
    main = _live_main(session, lot_id)
    if main is None or main.status not in LIVE:
        return []
    family = [d.id for d in _family(session, main) if d.status in LIVE]
    rows = session.execute(
        select(DrawAssignment, Expert.name)
        .join(Expert, Expert.id == DrawAssignment.expert_id)
        .join(Draw, Draw.id == DrawAssignment.draw_id)
        .where(DrawAssignment.draw_id.in_(family), DrawAssignment.status == "accepted")
        .order_by(Draw.created_at, Draw.id, DrawAssignment.specialty_index, DrawAssignment.position)
    ).all()
    return [CommitteeMember(a.expert_id, name, a.specialty, a.venue_id, a.id) for a, name in rows]


def reveal(
    session: Session,
    draw_id: uuid.UUID,
    principal: Principal,
    *,
    reason: str = "评标结果已确定",
    require_started: bool = False,
) -> None:
    """Publish the seed and open the list of a draw whose result is decided (招标投标法 第三十七条:
    confidential until then). Call it when the evaluation report is completed. A draw revealed
    before is left as it is (no second event). Refused (409) for a draw that selected nobody, and,
    with ``require_started`` (an operator's manual reveal), before its evaluation has started. No
    role check: the caller's endpoint decides who may."""
    draw = _lock(session, draw_id)
    _reveal_locked(session, draw, principal, reason, require_started=require_started)


def reveal_for_lot(session: Session, lot_id: uuid.UUID, principal: Principal) -> None:
    """:func:`reveal` for every draw of the lot that selected experts (void ones included, so that
    they too can be verified). 404 if the lot has no draw."""
    draws = session.scalars(
        select(Draw)
        .where(Draw.lot_id == lot_id)
        .order_by(Draw.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    if not draws:
        raise errors.draw_not_found()
    for draw in draws:
        if draw.result is not None and draw.revealed_at is None:
            _reveal_locked(session, draw, principal, "评标结果已确定", require_started=False)


def void_for_lot(session: Session, lot_id: uuid.UUID, reason: str, principal: Principal) -> None:
    """Void the lot's current committee (its live draw and that draw's supplementary draws), e.g.
    when a remote evaluation is sealed and the committee must be re-formed (条例 第四十八条; 87号令
    第四十九条). Members told of their seat are told it is cancelled. A new committee is then drawn
    with ``POST /draws/{id}/redraw`` on the voided draw. 404 if the lot has no live draw, 409 if its
    result is decided."""
    main = _live_main(session, lot_id)
    if main is None:
        raise errors.draw_not_found()
    main = _lock(session, main.id)
    if main.status not in ("committed", "sealed"):
        raise errors.wrong_status(main.status, ["committed", "sealed"])
    _void_family(session, main, reason, principal)


def mark_no_show(session: Session, assignment_id: uuid.UUID, reason: str, principal: Principal) -> DrawAssignment:
    """An accepted (or unanswered) member did not come: replaced from the specialty's reserves in
    draw order, the reserve told. No reserve left: the seat stays empty until a supplementary draw.
    No role check here; the endpoint admits the lot's platform operators."""
    assignment = session.get(DrawAssignment, assignment_id)
    if assignment is None:
        raise errors.assignment_not_found()
    draw = _draw_of(session, assignment)
    ensure_platform_access(principal, draw.platform, what="抽取任务")
    main = _lock(session, _main_id(draw))
    assignment = _lock_assignment(session, assignment_id)
    if main.status != "sealed" or draw.status != "sealed":
        raise errors.wrong_status(draw.status, ["sealed"])
    if assignment.status not in ANSWERED:
        raise errors.assignment_wrong_status(assignment.status, list(ANSWERED))
    assignment.status, assignment.no_show_reason = "no_show", reason
    _emit_assignment(session, principal, "assignment.no_show", draw, assignment, {"reason": reason})
    _replace(session, principal, main, assignment)
    return assignment


# -- requesting a draw -----------------------------------------------------------------------------


def check_key(value: str | None) -> str:
    if value is None:
        raise errors.idempotency_key_required()
    if not KEY_PATTERN.match(value):
        raise errors.invalid_idempotency_key()
    return value


def request_draw(
    session: Session,
    principal: Principal,
    body: DrawRequest,
    key: str,
    settings: ExpertPoolSettings,
    supervision: SupervisionClient,
) -> tuple[Draw, bool]:
    """Trading asks for a committee. Returns the draw and whether this is a replay of a finished one."""
    if not _platform_ok(principal, body.platform):
        raise errors.forbidden_platform(body.platform)
    existing = _by_key(session, principal, key)
    # A retry is judged by its body alone: the clock and the code list may have moved since.
    canonical = check_request(body, now=None if existing else db_now(session))
    document = request_document("initial", None, None, canonical)
    digest = fairness.document_digest({"operation": "draw", "request": canonical})
    if existing is None:
        _check_specialties(session, [line.specialty for line in body.specialties])
        prior = session.scalar(
            select(Draw.id).where(Draw.lot_id == body.lot_id, Draw.kind == "initial", Draw.status != "failed")
        )
        if prior is not None:
            live = _live_main(session, body.lot_id)
            error = errors.lot_already_drawn(live.id if live is not None else prior)
            return _replay_or_raise(session, principal, key, error, settings, supervision, digest)
    return _start(
        session,
        principal,
        settings,
        supervision,
        existing=existing,
        new=lambda: _new_draw(session, principal, "initial", None, document, body.requested_by, key, digest),
        digest=digest,
    )


def redraw(
    session: Session,
    principal: Principal,
    draw_id: uuid.UUID,
    body: RedrawIn,
    key: str,
    settings: ExpertPoolSettings,
    supervision: SupervisionClient,
) -> tuple[Draw, bool]:
    """Replace a committee (a live draw is voided first, with the reason) by a new draw of its own,
    linked to the old one; everyone drawn for the lot before is excluded."""
    old = visible_draw(session, principal, draw_id)
    digest = fairness.document_digest(
        {"operation": "redraw", "of": str(draw_id), "body": body.model_dump(mode="json", exclude_none=True)}
    )
    existing = _by_key(session, principal, key)
    if existing is not None:
        return _start(session, principal, settings, supervision, existing=existing, new=None, digest=digest)
    old = _lock(session, old.id)
    live = _live_main(session, old.lot_id)
    refusal: Conflict | None = None
    if old.kind == "supplementary" or old.status not in ("committed", "sealed", "void"):
        refusal = errors.wrong_status(old.status, ["committed", "sealed", "void"])
    elif old.status == "void" and live is not None:
        refusal = errors.lot_already_drawn(live.id)
    if refusal is not None:
        return _replay_or_raise(session, principal, key, refusal, settings, supervision, digest)
    request = dict(old.request["request"])
    if body.evaluation_starts_at is not None and body.evaluation_ends_at is not None:
        _check_new_times(session, body.evaluation_starts_at, body.evaluation_ends_at)
        request["evaluation_starts_at"] = utc_text(body.evaluation_starts_at)
        request["evaluation_ends_at"] = utc_text(body.evaluation_ends_at)
    if old.status != "void":
        _void_family(session, old, body.reason, principal)
    return _start_follow_up(
        session, principal, "redraw", old, request, body, key, digest, settings=settings, supervision=supervision
    )


def supplementary(
    session: Session,
    principal: Principal,
    draw_id: uuid.UUID,
    body: SupplementaryIn,
    key: str,
    settings: ExpertPoolSettings,
    supervision: SupervisionClient,
) -> tuple[Draw, bool]:
    """Fill the seats the reserves could not: for each specialty whose reserves ran out, as many
    members as are missing (and the original number of reserves), excluding everyone drawn for the
    lot before. Its own commitment, seed and snapshot; linked to the lot's live draw."""
    draw = visible_draw(session, principal, draw_id)
    digest = fairness.document_digest(
        {"operation": "supplementary", "of": str(draw_id), "body": body.model_dump(mode="json", exclude_none=True)}
    )
    existing = _by_key(session, principal, key)
    if existing is not None:
        return _start(session, principal, settings, supervision, existing=existing, new=None, digest=digest)
    main = _lock(session, _main_id(draw))
    lines = _shortfall(session, main) if main.status == "sealed" else []
    if not lines:
        refusal = errors.wrong_status(main.status, ["sealed"]) if main.status != "sealed" else errors.no_shortfall()
        return _replay_or_raise(session, principal, key, refusal, settings, supervision, digest)
    request = dict(main.request["request"])
    request["specialties"] = lines
    return _start_follow_up(
        session,
        principal,
        "supplementary",
        main,
        request,
        body,
        key,
        digest,
        settings=settings,
        supervision=supervision,
    )


def _start_follow_up(
    session: Session,
    principal: Principal,
    kind: str,
    parent: Draw,
    request: dict[str, Any],
    body: RedrawIn | SupplementaryIn,
    key: str,
    digest: str,
    *,
    settings: ExpertPoolSettings,
    supervision: SupervisionClient,
) -> tuple[Draw, bool]:
    """A re-draw or a supplementary draw of ``parent``: its own request document (kind, parent and
    the stated reason), then the same commit-then-select path as an initial draw."""
    document = request_document(kind, str(parent.id), body.reason, request)
    requested_by = body.requested_by or principal.subject
    return _start(
        session,
        principal,
        settings,
        supervision,
        existing=None,
        new=lambda: _new_draw(session, principal, kind, parent, document, requested_by, key, digest),
        digest=digest,
    )


def _replay_or_raise(
    session: Session,
    principal: Principal,
    key: str,
    refusal: Conflict,
    settings: ExpertPoolSettings,
    supervision: SupervisionClient,
    digest: str,
) -> tuple[Draw, bool]:
    """A refusal caused by a concurrent request with the same key (it got there first) is that
    request's answer, not an error; any other refusal stands."""
    existing = _by_key(session, principal, key)
    if existing is None:
        raise refusal
    return _start(session, principal, settings, supervision, existing=existing, new=None, digest=digest)


def _start(
    session: Session,
    principal: Principal,
    settings: ExpertPoolSettings,
    supervision: SupervisionClient,
    *,
    existing: Draw | None,
    new: Any,
    digest: str,
) -> tuple[Draw, bool]:
    draw = existing if existing is not None else new()
    if draw.idempotency_digest != digest:
        raise errors.idempotency_key_reused(draw.id)
    if draw.status == "failed":
        raise errors.not_enough_experts(list((draw.failure or {}).get("specialties", [])), draw.id)
    if draw.status != "committed":
        return draw, existing is not None
    return _select(session, principal, draw.id, settings, supervision), False


def _new_draw(
    session: Session,
    principal: Principal,
    kind: str,
    parent: Draw | None,
    document: dict[str, Any],
    requested_by: str,
    key: str,
    idempotency_digest: str,
) -> Draw:
    """Step 1: fix the seed and publish its commitment, in a transaction of its own."""
    request = document["request"]
    seed = secrets.token_bytes(fairness.SEED_BYTES)
    draw = Draw(
        id=uuid.uuid4(),
        kind=kind,
        parent_id=parent.id if parent else None,
        lot_id=uuid.UUID(request["lot_id"]),
        project_code=request["project_code"],
        platform=request["platform"],
        law=request["law"],
        tenderee_credit_code=request["tenderee_credit_code"],
        evaluation_starts_at=datetime.fromisoformat(request["evaluation_starts_at"]),
        evaluation_ends_at=datetime.fromisoformat(request["evaluation_ends_at"]),
        remote=bool(request["remote"]),
        request=document,
        request_digest=fairness.document_digest(document),
        members_required=sum(line["count"] for line in request["specialties"]),
        reserves_required=sum(line["reserves"] for line in request["specialties"]),
        idempotency_client=principal.subject,
        idempotency_key=key,
        idempotency_digest=idempotency_digest,
        requested_by=requested_by,
        reason=document["reason"],
        status="committed",
        seed=seed,
        commitment=fairness.commitment_of(seed),
    )
    if not insert_new(session, draw):
        found = _by_key(session, principal, key)
        if found is not None:
            return found
        # Another draw of the lot got there first (one initial draw per lot, one live at a time).
        other = session.scalar(
            select(Draw.id)
            .where(Draw.lot_id == draw.lot_id, Draw.kind != "supplementary", Draw.status != "failed")
            .order_by(Draw.created_at.desc())
        )
        raise errors.lot_already_drawn(other or draw.lot_id)
    _emit_draw(
        session,
        principal,
        "draw.committed",
        draw,
        {
            "kind": kind,
            "parent_id": str(parent.id) if parent else None,
            "reason": draw.reason,
            "commitment": draw.commitment,
            "request_digest": draw.request_digest,
            "members_required": draw.members_required,
            "reserves_required": draw.reserves_required,
            "requested_by": requested_by,
        },
    )
    session.commit()
    return draw


# -- selecting -------------------------------------------------------------------------------------


class _Walks:
    """The draw as it settles: each line's shuffle of its snapshot (computed lazily and kept), and
    the experts set aside since the snapshot was taken, with the reason."""

    def __init__(self, draw: Draw, wants: Sequence[fairness.Want], lines: Sequence[LineEligibility]) -> None:
        self.snapshot = [line.eligible for line in lines]
        self.shuffles = fairness.shuffles(draw.seed, draw.request_digest, wants, self.snapshot)
        self.skipped: dict[str, str] = {}

    def picks(self, wants: Sequence[fairness.Want], margin: int = 0) -> list[fairness.Pick]:
        """The selection over what is left, ``margin`` more per line (to ask credit ahead)."""
        wider = [fairness.Want(w.specialty, w.count, w.reserves + margin) for w in wants]
        return fairness.choose(wider, self.shuffles, skip=self.skipped.__contains__)


def _reached(picks: Sequence[fairness.Pick]) -> list[tuple[int, str]]:
    return [(index, i) for index, p in enumerate(picks) for i in (*p.members, *p.reserves)]


def _settle(session: Session, criteria: Criteria, wants: Sequence[fairness.Want], walks: _Walks) -> list[fairness.Pick]:
    """Under the selection lock: judge again, as of now, every expert the selection reaches, set
    aside those no longer eligible and walk on, until everyone reached is eligible now."""
    judged: set[tuple[int, str]] = set()
    while True:
        picks = walks.picks(wants)
        fresh = [pair for pair in _reached(picks) if pair not in judged]
        if not fresh:
            return picks
        now = recheck(session, criteria, sorted({i for _, i in fresh}))
        judged.update(fresh)
        for pair in fresh:
            rule = now.get(pair, "not_candidate")  # absent: no longer has the line's specialty
            if rule is not None:
                walks.skipped.setdefault(pair[1], rule)


def _select(
    session: Session,
    principal: Principal,
    draw_id: uuid.UUID,
    settings: ExpertPoolSettings,
    supervision: SupervisionClient,
) -> Draw:
    """Steps 2 and 3 for a committed draw (or a retry of one)."""
    draw = session.get(Draw, draw_id, populate_existing=True)
    assert draw is not None  # noqa: S101 - the caller holds it
    criteria = Criteria.of(draw.id, draw.request["request"], settings)
    wants = fairness.wants_of(draw.request)
    credit_on = db_today(session)
    lines = eligibility(session, criteria)
    session.commit()  # no transaction while supervision is asked
    walks = _Walks(draw, wants, lines)
    asked: set[str] = set()
    for _ in range(MAX_ROUNDS):
        asking = list(dict.fromkeys(i for _, i in _reached(walks.picks(wants, CREDIT_MARGIN)) if i not in asked))
        if asking:
            for expert_id in credit.banned_experts(supervision, asking, credit_on):
                walks.skipped[expert_id] = "credit_banned"
            asked.update(asking)
        session.execute(text("select pg_advisory_xact_lock(:k)"), {"k": _SELECTION_LOCK})
        draw = _lock(session, draw_id)
        if draw.status != "committed":  # a concurrent retry of the same request finished it
            session.commit()
            return draw
        picks = _settle(session, criteria, wants, walks)
        if any(i not in asked for _, i in _reached(picks)):
            session.rollback()  # the walk went past those supervision was asked about: ask, then again
            continue
        _write_selection(session, principal, draw, wants, lines, walks, picks, len(asked), credit_on)
        session.commit()
        if draw.status == "failed":
            raise errors.not_enough_experts(list((draw.failure or {})["specialties"]), draw.id)
        return draw
    session.rollback()
    raise errors.pool_changing()


def _write_selection(
    session: Session,
    principal: Principal,
    draw: Draw,
    wants: Sequence[fairness.Want],
    lines: Sequence[LineEligibility],
    walks: _Walks,
    picks: Sequence[fairness.Pick],
    credit_checked: int,
    credit_on: Any,
) -> None:
    now = db_now(session)
    exclusions: dict[str, Any] = {}
    for line in lines:
        set_aside = Counter(walks.skipped[i] for i in line.eligible if i in walks.skipped)
        exclusions[line.specialty] = {
            "candidates": line.candidates,
            "eligible": len(line.eligible),
            "excluded": dict(line.excluded),
            "set_aside": dict(sorted(set_aside.items())),
        }
    draw.exclusions = exclusions
    draw.credit_on = credit_on
    draw.credit_checked = credit_checked
    draw.skipped = dict(sorted(walks.skipped.items()))
    short = [
        {"specialty": w.specialty, "needed": w.count, "eligible": len(p.members)}
        for w, p in zip(wants, picks, strict=True)
        if len(p.members) < w.count
    ]
    if short:
        draw.status, draw.failure = "failed", {"specialties": short}
        _emit_draw(session, principal, "draw.failed", draw, {"exclusions": exclusions, "shortfall": short})
        return

    session.execute(
        text(
            "insert into expert_pool.draw_snapshots (draw_id, specialty_index, specialty, expert_ids) "
            "values (:draw_id, :index, :specialty, :ids)"
        ),
        [
            {"draw_id": draw.id, "index": index, "specialty": want.specialty, "ids": ",".join(ids)}
            for index, (want, ids) in enumerate(zip(wants, walks.snapshot, strict=True))
        ],
    )
    result = fairness.result_json(picks)
    draw.snapshot_sha256 = fairness.document_digest(fairness.snapshot_json(wants, walks.snapshot))
    draw.result = result
    draw.result_sha256 = fairness.document_digest(result)
    draw.selected_at = now
    draw.status = "sealed"

    venues = list(draw.request["request"].get("venues") or [])
    platforms = _platforms_of(session, [i for p in picks for i in p.members]) if venues else {}
    occupied = _occupied_seats(session, draw) if venues else Counter()
    for index, pick in enumerate(picks):
        # Members first, then the reserves in draw order: positions run on across both.
        drawn = [(e, "member") for e in pick.members] + [(e, "reserve") for e in pick.reserves]
        for position, (expert_id, role) in enumerate(drawn, start=1):
            member = role == "member"
            assignment = DrawAssignment(
                id=uuid.uuid4(),
                draw_id=draw.id,
                expert_id=uuid.UUID(expert_id),
                specialty=pick.specialty,
                specialty_index=index,
                position=position,
                role=role,
                status="pending" if member else "reserve",
                venue_id=_seat(venues, occupied, platforms.get(expert_id)) if member else None,
                notified_at=now if member else None,
            )
            session.add(assignment)
            if member:
                notifications.queue(session, "selected", draw, assignment)
    # The ledger gets digests and counts only: the names stay sealed until the result is decided.
    _emit_draw(
        session,
        principal,
        "draw.sealed",
        draw,
        {
            "snapshot_sha256": draw.snapshot_sha256,
            "result_sha256": draw.result_sha256,
            "exclusions": exclusions,
            "credit": {"on": str(credit_on), "checked": credit_checked},
            "members": sum(len(p.members) for p in picks),
            "reserves": sum(len(p.reserves) for p in picks),
        },
    )
    session.flush()


# -- seats of a remote evaluation ------------------------------------------------------------------


def _platforms_of(session: Session, expert_ids: Sequence[str]) -> dict[str, str]:
    rows = session.execute(select(Expert.id, Expert.platform).where(Expert.id.in_([uuid.UUID(i) for i in expert_ids])))
    return {str(expert_id): platform for expert_id, platform in rows}


def _occupied_seats(session: Session, draw: Draw) -> Counter[str]:
    main = _main_id(draw)
    family = select(Draw.id).where((Draw.id == main) | (Draw.parent_id == main), Draw.status.in_(("committed", *LIVE)))
    rows = session.execute(
        select(DrawAssignment.venue_id, func.count())
        .where(DrawAssignment.draw_id.in_(family), DrawAssignment.status.in_(ANSWERED))
        .where(DrawAssignment.venue_id.is_not(None))
        .group_by(DrawAssignment.venue_id)
    )
    return Counter({str(venue): int(n) for venue, n in rows})


def _seat(venues: Sequence[dict[str, Any]], occupied: Counter[str], platform: str | None) -> uuid.UUID | None:
    """A remote evaluation seats each member in draw order: at a venue of the expert's own platform
    with a free seat, else at the main venue, else at the first sub-venue with one (request order)."""
    if not venues:
        return None

    def free(venue: dict[str, Any]) -> bool:
        return occupied[venue["venue_id"]] < int(venue["seats"])

    choice = (
        next((v for v in venues if v["platform"] == platform and free(v)), None)
        or next((v for v in venues if v["role"] == "main" and free(v)), None)
        or next((v for v in venues if free(v)), None)
    )
    if choice is None:
        return None
    occupied[choice["venue_id"]] += 1
    return uuid.UUID(choice["venue_id"])


# -- replacing members -----------------------------------------------------------------------------


def _replace(session: Session, principal: Principal | None, main: Draw, gone: DrawAssignment) -> DrawAssignment | None:
    """Promote the next reserve of ``gone``'s specialty (the lot's draws in order, then position)."""
    family = [d for d in _family(session, main) if d.status == "sealed"]
    reserve = session.scalars(
        select(DrawAssignment)
        .join(Draw, Draw.id == DrawAssignment.draw_id)
        .where(
            DrawAssignment.draw_id.in_([d.id for d in family]),
            DrawAssignment.specialty == gone.specialty,
            DrawAssignment.status == "reserve",
        )
        .order_by(Draw.created_at, Draw.id, DrawAssignment.position)
        .limit(1)
        .with_for_update(of=DrawAssignment)
    ).first()
    if reserve is None:
        return None
    draw = next(d for d in family if d.id == reserve.draw_id)
    venues = list(main.request["request"].get("venues") or [])
    session.flush()  # the seat just freed must count as free
    if venues:
        platform = _platforms_of(session, [str(reserve.expert_id)]).get(str(reserve.expert_id))
        reserve.venue_id = _seat(venues, _occupied_seats(session, draw), platform)
    reserve.status, reserve.replaces_id, reserve.notified_at = "pending", gone.id, db_now(session)
    notifications.queue(session, "promoted", draw, reserve)
    _emit_assignment(
        session,
        principal,
        "assignment.promoted",
        draw,
        reserve,
        {"replaces": str(gone.id), "position": reserve.position},
    )
    return reserve


def _shortfall(session: Session, main: Draw) -> list[dict[str, Any]]:
    """Per specialty line of the lot's committee: members missing with no reserve left to call."""
    family = [d.id for d in _family(session, main) if d.status == "sealed"]
    counts: Counter[tuple[str, str]] = Counter()
    for specialty, status, n in session.execute(
        select(DrawAssignment.specialty, DrawAssignment.status, func.count())
        .where(DrawAssignment.draw_id.in_(family))
        .group_by(DrawAssignment.specialty, DrawAssignment.status)
    ):
        counts[(specialty, status)] = int(n)
    lines = []
    for line in main.request["request"]["specialties"]:
        code = line["specialty"]
        seated = counts[(code, "pending")] + counts[(code, "accepted")]
        if seated < line["count"] and counts[(code, "reserve")] == 0:
            lines.append({"specialty": code, "count": line["count"] - seated, "reserves": line["reserves"]})
    return lines


# -- voiding and revealing -------------------------------------------------------------------------


def _void_family(session: Session, main: Draw, reason: str, principal: Principal) -> None:
    now = db_now(session)
    for draw in _family(session, main):
        if draw.status not in ("committed", "sealed"):
            continue
        cancelled = 0
        for assignment in session.scalars(
            select(DrawAssignment)
            .where(DrawAssignment.draw_id == draw.id, DrawAssignment.status.in_((*ANSWERED, "reserve")))
            .order_by(DrawAssignment.specialty_index, DrawAssignment.position)
            .with_for_update()
        ):
            if assignment.status in ANSWERED:
                notifications.queue(session, "cancelled", draw, assignment)
            assignment.status = "cancelled"
            cancelled += 1
        draw.status, draw.voided_at, draw.voided_by, draw.void_reason = "void", now, principal.subject, reason
        _emit_draw(session, principal, "draw.voided", draw, {"reason": reason, "assignments_cancelled": cancelled})
    session.flush()


def _reveal_locked(session: Session, draw: Draw, principal: Principal, reason: str, *, require_started: bool) -> None:
    if draw.revealed_at is not None:
        return
    if draw.result is None:
        raise errors.wrong_status(draw.status, ["sealed", "void"])
    now = db_now(session)
    # A completed evaluation report decides the result whatever the clock says; a person revealing
    # by hand is held to the time: before the evaluation has started no result can be decided.
    if require_started and now < draw.evaluation_starts_at:
        raise errors.result_not_decided()
    draw.revealed_at, draw.revealed_by = now, principal.subject
    if draw.status == "sealed":
        draw.status = "revealed"
    # From here the seed is public: anyone holding the record can recompute the list.
    _emit_draw(
        session,
        principal,
        "draw.revealed",
        draw,
        {"reason": reason, "seed": draw.seed.hex(), "commitment": draw.commitment, "result": draw.result},
    )
    session.flush()


# -- reading ---------------------------------------------------------------------------------------


def visible_draw(session: Session, principal: Principal, draw_id: uuid.UUID) -> Draw:
    """The draw if the caller's platform may see it; 404 otherwise, as if it did not exist."""
    draw = session.get(Draw, draw_id)
    if draw is None:
        raise errors.draw_not_found()
    try:
        ensure_platform_access(principal, draw.platform, what="抽取记录")
    except NotFound:
        raise errors.draw_not_found() from None
    return draw


def _counts(session: Session, draw_id: uuid.UUID) -> Counter[str]:
    rows = session.execute(
        select(DrawAssignment.status, func.count())
        .where(DrawAssignment.draw_id == draw_id)
        .group_by(DrawAssignment.status)
    )
    return Counter({status: int(n) for status, n in rows})


def summary(session: Session, draw: Draw) -> DrawSummary:
    """Counts and status: what trading, the tenderee and the agency may know before the result."""
    counts = _counts(session, draw.id)
    return DrawSummary(
        id=draw.id,
        lot_id=draw.lot_id,
        kind=draw.kind,
        status=draw.status,
        commitment=draw.commitment,
        members_required=draw.members_required,
        accepted=counts["accepted"],
        pending=counts["pending"],
        declined=counts["declined"] + counts["no_show"],
        reserves_left=counts["reserve"],
        created_at=draw.created_at,
    )


def detail(session: Session, draw: Draw) -> DrawDetail:
    return DrawDetail(
        **summary(session, draw).model_dump(),
        project_code=draw.project_code,
        platform=draw.platform,
        parent_id=draw.parent_id,
        reason=draw.reason,
        requested_by=draw.requested_by,
        request_digest=draw.request_digest,
        snapshot_sha256=draw.snapshot_sha256,
        result_sha256=draw.result_sha256,
        exclusions=draw.exclusions,
        credit_on=draw.credit_on,
        credit_checked=draw.credit_checked,
        credit_banned=sum(1 for r in (draw.skipped or {}).values() if r == "credit_banned"),
        failure=draw.failure,
        selected_at=draw.selected_at,
        revealed_at=draw.revealed_at,
        voided_at=draw.voided_at,
        void_reason=draw.void_reason,
    )


def lot_draws(session: Session, principal: Principal, lot_id: uuid.UUID) -> list[DrawDetail]:
    """Every draw of a lot, oldest first (re-draws and supplementary ones with their reasons)."""
    draws = session.scalars(select(Draw).where(Draw.lot_id == lot_id).order_by(Draw.created_at, Draw.id)).all()
    visible = [d for d in draws if _platform_ok(principal, d.platform)]
    if not visible:
        raise errors.draw_not_found()
    return [detail(session, d) for d in visible]


def _ensure_revealed(draw: Draw) -> datetime:
    if draw.revealed_at is None or draw.result is None:
        raise errors.sealed(draw.status)
    return draw.revealed_at


def committee(session: Session, draw: Draw) -> CommitteeOut:
    """The list after the result is decided: names, specialties, order and status."""
    revealed_at = _ensure_revealed(draw)
    rows = session.execute(
        select(DrawAssignment, Expert.name)
        .join(Expert, Expert.id == DrawAssignment.expert_id)
        .where(DrawAssignment.draw_id == draw.id)
        .order_by(DrawAssignment.specialty_index, DrawAssignment.position)
    ).all()
    return CommitteeOut(
        draw_id=draw.id,
        lot_id=draw.lot_id,
        kind=draw.kind,
        status=draw.status,
        revealed_at=revealed_at,
        entries=[
            CommitteeEntryOut(
                assignment_id=a.id,
                expert_id=a.expert_id,
                name=name,
                specialty=a.specialty,
                role=a.role,
                position=a.position,
                status=a.status,
                venue_id=a.venue_id,
                replaces=a.replaces_id,
            )
            for a, name in rows
        ],
    )


def _snapshot_of(session: Session, draw: Draw) -> list[list[str]]:
    """The stored snapshot, as stored (not re-sorted: a reordered snapshot must fail its digest)."""
    rows = session.scalars(
        select(DrawSnapshot.expert_ids).where(DrawSnapshot.draw_id == draw.id).order_by(DrawSnapshot.specialty_index)
    )
    return [joined.split(",") if joined else [] for joined in rows]


def record(session: Session, draw: Draw) -> DrawRecord:
    """The published record (docs/draw.md §5): enough to recompute the list offline."""
    revealed_at = _ensure_revealed(draw)
    assert draw.selected_at is not None and draw.snapshot_sha256 and draw.result_sha256  # noqa: S101 - sealed
    wants = fairness.wants_of(draw.request)
    return DrawRecord(
        draw_id=draw.id,
        lot_id=draw.lot_id,
        kind=draw.kind,
        parent_id=draw.parent_id,
        status=draw.status,
        seed=draw.seed.hex(),
        commitment=draw.commitment,
        request=draw.request,
        request_digest=draw.request_digest,
        snapshot=fairness.snapshot_json(wants, _snapshot_of(session, draw)),
        snapshot_sha256=draw.snapshot_sha256,
        skipped=draw.skipped or {},
        credit={"on": str(draw.credit_on), "checked": draw.credit_checked},
        exclusions=draw.exclusions or {},
        result=draw.result or [],
        result_sha256=draw.result_sha256,
        committed_at=draw.committed_at,
        selected_at=draw.selected_at,
        revealed_at=revealed_at,
    )


def verify(session: Session, draw: Draw) -> VerifyOut:
    """Recompute the draw from what is stored and compare; only booleans, so it may be asked before
    the reveal without opening anything."""
    if draw.result is None:
        raise errors.wrong_status(draw.status, ["sealed", "revealed", "void"])
    wants = fairness.wants_of(draw.request)
    snapshot = _snapshot_of(session, draw)
    picks = fairness.select(draw.seed, draw.request_digest, wants, snapshot, set(draw.skipped or {}))
    stored = session.execute(
        select(DrawAssignment.specialty_index, DrawAssignment.role, DrawAssignment.position, DrawAssignment.expert_id)
        .where(DrawAssignment.draw_id == draw.id)
        .order_by(DrawAssignment.specialty_index, DrawAssignment.position)
    ).all()
    assigned = [
        (index, role, position, expert_id)
        for index, pick in enumerate(picks)
        for role, ids, first in (("member", pick.members, 1), ("reserve", pick.reserves, len(pick.members) + 1))
        for position, expert_id in enumerate(ids, start=first)
    ]
    checks = {
        "commitment": fairness.commitment_of(draw.seed) == draw.commitment,
        "request_digest": fairness.document_digest(draw.request) == draw.request_digest,
        "snapshot_sha256": fairness.document_digest(fairness.snapshot_json(wants, snapshot)) == draw.snapshot_sha256,
        "result": fairness.result_json(picks) == draw.result,
        "result_sha256": fairness.document_digest(draw.result) == draw.result_sha256,
        "assignments": [(i, r, p, str(e)) for i, r, p, e in stored] == assigned,
    }
    return VerifyOut(draw_id=draw.id, match=all(checks.values()), checks=checks)


# -- experts ---------------------------------------------------------------------------------------


def _expert_of(session: Session, principal: Principal) -> Expert:
    expert = session.scalar(select(Expert).where(Expert.account_subject == principal.subject))
    if expert is None:
        raise errors.not_an_expert()
    return expert


def my_assignments(session: Session, principal: Principal) -> list[AssignmentOut]:
    """The caller's own assignments they were told of (a waiting reserve does not know it is one)."""
    expert = _expert_of(session, principal)
    rows = session.execute(
        select(DrawAssignment, Draw)
        .join(Draw, Draw.id == DrawAssignment.draw_id)
        .where(DrawAssignment.expert_id == expert.id, DrawAssignment.notified_at.is_not(None))
        .order_by(Draw.evaluation_starts_at.desc(), DrawAssignment.id)
    ).all()
    return [_assignment_out(a, d) for a, d in rows]


def _assignment_out(assignment: DrawAssignment, draw: Draw) -> AssignmentOut:
    assert assignment.notified_at is not None  # noqa: S101 - only notified ones are shown
    return AssignmentOut(
        id=assignment.id,
        draw_id=draw.id,
        lot_id=draw.lot_id,
        project_code=draw.project_code,
        specialty=assignment.specialty,
        status=assignment.status,
        evaluation_starts_at=draw.evaluation_starts_at,
        evaluation_ends_at=draw.evaluation_ends_at,
        venue_id=assignment.venue_id,
        notified_at=assignment.notified_at,
        responded_at=assignment.responded_at,
    )


def _own_assignment(session: Session, principal: Principal, assignment_id: uuid.UUID) -> tuple[DrawAssignment, Draw]:
    expert = _expert_of(session, principal)
    assignment = session.get(DrawAssignment, assignment_id)
    # Someone else's assignment answers as absent: an expert learns nothing of other experts.
    if assignment is None or assignment.expert_id != expert.id or assignment.notified_at is None:
        raise errors.assignment_not_found()
    draw = _draw_of(session, assignment)
    _lock(session, _main_id(draw))
    return _lock_assignment(session, assignment_id), draw


def respond(
    session: Session, principal: Principal, assignment_id: uuid.UUID, *, accept: bool, reason: str | None = None
) -> AssignmentOut:
    """Accept (pending only) or decline (pending or accepted, with a reason) before the evaluation
    starts. A decline promotes the next reserve of the specialty."""
    assignment, draw = _own_assignment(session, principal, assignment_id)
    if draw.status != "sealed":
        raise errors.wrong_status(draw.status, ["sealed"])
    allowed = ["pending"] if accept else list(ANSWERED)
    if assignment.status not in allowed:
        raise errors.assignment_wrong_status(assignment.status, allowed)
    now = db_now(session)
    if now >= draw.evaluation_starts_at:
        raise errors.response_closed()
    assignment.responded_at = now
    if accept:
        assignment.status = "accepted"
        _emit_assignment(session, principal, "assignment.accepted", draw, assignment, {})
    else:
        assignment.status, assignment.decline_reason = "declined", reason
        _emit_assignment(session, principal, "assignment.declined", draw, assignment, {"reason": reason})
        main = session.get(Draw, _main_id(draw))
        assert main is not None  # noqa: S101 - foreign key
        _replace(session, principal, main, assignment)
    session.flush()
    return _assignment_out(assignment, draw)


# -- small helpers ---------------------------------------------------------------------------------


def _platform_ok(principal: Principal, platform: str) -> bool:
    try:
        ensure_platform_access(principal, platform)
    except NotFound:
        return False
    return True


def _check_specialties(session: Session, codes: list[str]) -> None:
    active = set(session.scalars(select(Specialty.code).where(Specialty.code.in_(codes), Specialty.active.is_(True))))
    unknown = sorted(set(codes) - active)
    if unknown:
        raise errors.unknown_specialty(unknown)


def _check_new_times(session: Session, starts_at: datetime, ends_at: datetime) -> None:
    violations = []
    if starts_at >= ends_at:
        violations.append(
            {"rule": "evaluation_period_invalid", "basis": "request", "message": "评标开始时间须早于结束时间"}
        )
    if starts_at <= db_now(session):
        violations.append({"rule": "evaluation_in_past", "basis": "request", "message": "评标开始时间已过"})
    if violations:
        raise errors.rule_violated(violations)


def _by_key(session: Session, principal: Principal, key: str) -> Draw | None:
    return session.scalar(
        select(Draw)
        .where(Draw.idempotency_client == principal.subject, Draw.idempotency_key == key)
        .execution_options(populate_existing=True)
    )


def _lock(session: Session, draw_id: uuid.UUID) -> Draw:
    draw = session.scalar(
        select(Draw).where(Draw.id == draw_id).with_for_update().execution_options(populate_existing=True)
    )
    if draw is None:
        raise errors.draw_not_found()
    return draw


def _lock_assignment(session: Session, assignment_id: uuid.UUID) -> DrawAssignment:
    assignment = session.scalar(
        select(DrawAssignment)
        .where(DrawAssignment.id == assignment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if assignment is None:  # pragma: no cover - assignments are never deleted
        raise errors.assignment_not_found()
    return assignment


def _draw_of(session: Session, assignment: DrawAssignment) -> Draw:
    draw = session.get(Draw, assignment.draw_id)
    assert draw is not None  # noqa: S101 - foreign key
    return draw


def _main_id(draw: Draw) -> uuid.UUID:
    if draw.kind == "supplementary":
        assert draw.parent_id is not None  # noqa: S101 - table constraint parent_iff_not_initial
        return draw.parent_id
    return draw.id


def _live_main(session: Session, lot_id: uuid.UUID) -> Draw | None:
    return session.scalar(
        select(Draw).where(Draw.lot_id == lot_id, Draw.kind != "supplementary", Draw.status.in_(("committed", *LIVE)))
    )


def _family(session: Session, main: Draw) -> list[Draw]:
    """The main draw and its supplementary draws, oldest first."""
    supplements = session.scalars(
        select(Draw).where(Draw.parent_id == main.id, Draw.kind == "supplementary").order_by(Draw.created_at, Draw.id)
    ).all()
    return [main, *supplements]


def _emit_draw(session: Session, principal: Principal | None, action: str, draw: Draw, change: dict[str, Any]) -> None:
    emit(
        session,
        principal=principal,
        actor=None if principal else "expert_pool",
        actor_role=None if principal else "system",
        action=action,
        object_type="draw",
        object_id=str(draw.id),
        platform=draw.platform,
        project_id=draw.project_code,
        lot_id=str(draw.lot_id),
        change={"draw_id": str(draw.id), **change},
    )


def _emit_assignment(
    session: Session,
    principal: Principal | None,
    action: str,
    draw: Draw,
    assignment: DrawAssignment,
    change: dict[str, Any],
) -> None:
    # No expert id: before the reveal the ledger must not say who was drawn.
    emit(
        session,
        principal=principal,
        action=action,
        object_type="draw_assignment",
        object_id=str(assignment.id),
        platform=draw.platform,
        project_id=draw.project_code,
        lot_id=str(draw.lot_id),
        change={"draw_id": str(draw.id), "specialty": assignment.specialty, **change},
    )
