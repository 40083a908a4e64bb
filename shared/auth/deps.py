"""FastAPI dependencies: who may call an endpoint, decided from the token alone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from shared.auth.keys import KeySource, WouldBlock
from shared.auth.principal import Principal
from shared.auth.revocations import RevocationSource
from shared.auth.tokens import verify_token
from shared.errors import Forbidden, NotFound, Unauthenticated
from shared.platforms import can_access

ISSUER = "jincheng-portal"


@dataclass
class Authenticator:
    audience: str
    keys: KeySource
    revocations: RevocationSource | None
    issuer: str = ISSUER

    def authenticate(self, request: Request, *, wait: bool = True) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated()
        return verify_token(
            token.strip(),
            audience=self.audience,
            issuer=self.issuer,
            keys=self.keys,
            revocations=self.revocations,
            wait=wait,
        )


def current_principal(request: Request) -> Principal:
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    authenticator: Authenticator = request.app.state.authenticator
    principal = authenticator.authenticate(request)
    request.state.principal = principal
    return principal


async def current_principal_on_loop(request: Request) -> Principal:
    """:func:`current_principal` for ``async`` endpoints: checked on the event loop while the keys
    and the revocation list are cached (CPU only), in a worker thread when one must be fetched."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    authenticator: Authenticator = request.app.state.authenticator
    try:
        principal = authenticator.authenticate(request, wait=False)
    except WouldBlock:
        principal = await run_in_threadpool(authenticator.authenticate, request)
    request.state.principal = principal
    return principal


def require(*roles: str, typ: str | None = None, scopes: tuple[str, ...] = ()) -> Callable[[Request], Principal]:
    """A dependency admitting principals with any of ``roles`` (users) or all ``scopes`` (services).

    ``typ="service"`` admits machine tokens only (a user token is refused even with a matching
    role), ``typ="user"`` people only; ``None`` admits either, each by its own test.
    """
    admit = _admission(roles, typ, scopes)

    def dependency(request: Request) -> Principal:
        return admit(current_principal(request))

    return dependency


def require_on_loop(
    *roles: str, typ: str | None = None, scopes: tuple[str, ...] = ()
) -> Callable[[Request], Awaitable[Principal]]:
    """:func:`require` as an ``async`` dependency, for ``async`` endpoints (the bid upload): a
    synchronous dependency would cost each request a round trip through a worker thread."""
    admit = _admission(roles, typ, scopes)

    async def dependency(request: Request) -> Principal:
        return admit(await current_principal_on_loop(request))

    return dependency


def _admission(roles: tuple[str, ...], typ: str | None, scopes: tuple[str, ...]) -> Callable[[Principal], Principal]:
    def admit(principal: Principal) -> Principal:
        if typ is not None and principal.typ != typ:
            raise Forbidden(
                "此接口不接受该类型的令牌", code="wrong_token_type", details={"required": typ, "got": principal.typ}
            )
        if principal.typ == "service":
            if typ is None and not scopes:
                raise Forbidden("此接口仅供用户调用", code="wrong_token_type")
            missing = [s for s in scopes if s not in principal.scopes]
            if missing:
                raise Forbidden("令牌缺少所需权限范围", code="insufficient_scope", details={"missing": missing})
            return principal
        if roles and not principal.has_role(*roles):
            raise Forbidden("当前角色无权执行此操作", code="forbidden_role", details={"allowed": list(roles)})
        return principal

    return admit


def ensure_platform_access(principal: Principal, object_platform: str, *, what: str = "对象") -> None:
    """County principals see only their county. A miss looks like absence, so nothing leaks."""
    if not can_access(principal.platform, object_platform):
        raise NotFound(f"{what}不存在")


def ensure_city(principal: Principal) -> None:
    if not principal.is_city:
        raise Forbidden("仅市级平台可执行此操作", code="city_only")
