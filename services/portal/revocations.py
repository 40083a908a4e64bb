"""Who is disabled, for the revocation list services cache."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.portal.identity.models import User
from services.portal.oauth.models import ApiClient


def revoked_subjects(session: Session) -> dict[str, int]:
    users = session.execute(select(User.id, User.disabled_at).where(User.disabled_at.is_not(None)))
    clients = session.execute(
        select(ApiClient.client_id, ApiClient.disabled_at).where(ApiClient.disabled_at.is_not(None))
    )
    revoked = {str(uid): int(at.timestamp()) for uid, at in users}
    revoked.update({cid: int(at.timestamp()) for cid, at in clients})
    return revoked
