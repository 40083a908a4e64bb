"""Organisations, users, password login with lockout, refresh rotation, disabling."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.portal.audit import emit
from services.portal.identity.models import Organisation, RefreshToken, User
from services.portal.identity.passwords import hash_password, verify_password
from services.portal.identity.schemas import OrganisationCreate, UserCreate
from services.portal.settings import PortalSettings
from services.portal.tokens import hash_refresh_token
from shared.auth import Principal, ensure_platform_access
from shared.db import db_now, insert_new
from shared.errors import ApiError, Conflict, Forbidden, NotFound, Unauthenticated, Unprocessable
from shared.platforms import can_access


class LoginFailed(Unauthenticated):
    code = "invalid_credentials"


class AccountLocked(ApiError):
    status_code = 423
    code = "account_locked"


def _target_platform(principal: Principal, requested: str | None) -> str:
    platform = requested or principal.platform
    if not can_access(principal.platform, platform):
        raise Forbidden("不能在其他县（市、区）平台创建对象", code="forbidden_platform")
    return platform


def create_organisation(session: Session, principal: Principal, data: OrganisationCreate) -> Organisation:
    org = Organisation(
        name=data.name,
        credit_code=data.credit_code,
        org_type=data.org_type,
        platform=_target_platform(principal, data.platform),
    )
    if not insert_new(session, org):
        raise Conflict("该统一社会信用代码已登记", code="credit_code_taken")
    emit(
        session,
        principal=principal,
        action="organisation.created",
        object_type="organisation",
        object_id=str(org.id),
        platform=org.platform,
        change={"name": org.name, "credit_code": org.credit_code, "org_type": org.org_type},
    )
    return org


def get_organisation(session: Session, principal: Principal, org_id: uuid.UUID) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound("机构不存在")
    ensure_platform_access(principal, org.platform, what="机构")
    return org


def create_user(session: Session, principal: Principal, data: UserCreate) -> User:
    platform = _target_platform(principal, data.platform)
    if data.password is None and data.cert_subject_serial is None:
        raise Unprocessable("用户至少需要密码或数字证书之一", code="no_credentials")
    if data.organisation_id is not None:
        org = get_organisation(session, principal, data.organisation_id)
        if org.platform != platform and not principal.is_city:
            raise Forbidden("机构不属于该平台", code="forbidden_platform")
    user = User(
        username=data.username,
        display_name=data.display_name,
        roles=sorted(set(data.roles)),
        platform=platform,
        organisation_id=data.organisation_id,
        cert_subject_serial=data.cert_subject_serial,
        password_hash=hash_password(data.password) if data.password else None,
    )
    if not insert_new(session, user):
        raise Conflict("用户名或证书已被使用", code="user_taken")
    emit(
        session,
        principal=principal,
        action="user.created",
        object_type="user",
        object_id=str(user.id),
        platform=platform,
        organisation=str(user.organisation_id) if user.organisation_id else None,
        change={"username": user.username, "roles": user.roles, "cert": bool(user.cert_subject_serial)},
    )
    return user


def get_user(session: Session, principal: Principal, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在")
    ensure_platform_access(principal, user.platform, what="用户")
    return user


def disable_user(session: Session, principal: Principal, user_id: uuid.UUID) -> User:
    user = get_user(session, principal, user_id)
    if user.disabled_at is None:
        user.disabled_at = db_now(session)
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=user.disabled_at)
        )
        emit(
            session,
            principal=principal,
            action="user.disabled",
            object_type="user",
            object_id=str(user.id),
            platform=user.platform,
            change={"disabled_at": user.disabled_at.isoformat()},
        )
    return user


def password_login(session: Session, settings: PortalSettings, username: str, password: str) -> User:
    """Check a password; failures count towards a lockout and are audited.

    The caller must commit even when this raises, so the failure count survives: see the router.
    """
    user = session.scalars(select(User).where(User.username == username).with_for_update()).first()
    now = db_now(session)
    if user is not None and user.locked_until is not None and user.locked_until > now:
        emit(
            session,
            principal=None,
            actor=str(user.id),
            actor_role="anonymous",
            action="login.refused_locked",
            object_type="user",
            object_id=str(user.id),
            platform=user.platform,
            change={},
        )
        raise AccountLocked("账户已锁定，请稍后再试", details={"locked_until": user.locked_until.isoformat()})
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled_at is not None:
        if user is not None:
            user.failed_logins += 1
            change: dict[str, object] = {"failed_logins": user.failed_logins}
            if user.failed_logins >= settings.lockout_threshold:
                user.locked_until = now + timedelta(seconds=settings.lockout_seconds)
                user.failed_logins = 0
                change["locked_until"] = user.locked_until.isoformat()
            emit(
                session,
                principal=None,
                actor=str(user.id),
                actor_role="anonymous",
                action="login.failed",
                object_type="user",
                object_id=str(user.id),
                platform=user.platform,
                change=change,
            )
        raise LoginFailed("用户名或密码错误")
    user.failed_logins = 0
    user.locked_until = None
    emit(
        session,
        principal=None,
        actor=str(user.id),
        actor_role="anonymous",
        action="login.password",
        object_type="user",
        object_id=str(user.id),
        platform=user.platform,
        organisation=str(user.organisation_id) if user.organisation_id else None,
        change={},
    )
    return user


def consume_refresh_token(session: Session, token: str) -> tuple[User, RefreshToken]:
    """Use a refresh token once. A second use means it leaked: the whole family is revoked."""
    row = session.scalars(
        select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(token)).with_for_update()
    ).first()
    now = db_now(session)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthenticated("刷新令牌无效或已过期", code="invalid_refresh_token")
    user = session.get(User, row.user_id)
    if row.used_at is not None or user is None or user.disabled_at is not None:
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == row.family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        emit(
            session,
            principal=None,
            actor=str(row.user_id),
            actor_role="anonymous",
            action="refresh.reuse_detected",
            object_type="user",
            object_id=str(row.user_id),
            platform=user.platform if user else None,
            change={"family_id": str(row.family_id)},
        )
        raise Unauthenticated("刷新令牌已被使用，已吊销该登录会话", code="invalid_refresh_token")
    row.used_at = now
    return user, row
