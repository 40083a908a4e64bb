"""Client for the portal (服务平台): service tokens, JWKS, revocations."""

from __future__ import annotations

import threading
import time

from shared.clients.base import ServiceClient
from shared.contracts.identity import TokenResponse


class PortalClient(ServiceClient):
    def client_credentials(
        self, client_id: str, client_secret: str, *, audience: str, scope: str = ""
    ) -> TokenResponse:
        data = {"grant_type": "client_credentials", "audience": audience, "scope": scope}
        # Token issuance has no side effect beyond the token, so retrying it is safe.
        body = self.call_json(
            "POST", "/oauth/token", data=data, auth=(client_id, client_secret), authenticated=False, idempotent=True
        )
        return TokenResponse.model_validate(body)


class ServiceTokenProvider:
    """Caches this service's token for one audience and renews it shortly before it expires."""

    def __init__(
        self,
        portal: PortalClient,
        client_id: str,
        client_secret: str,
        *,
        audience: str,
        scope: str,
        renew_margin: float = 30.0,
    ) -> None:
        self.portal = portal
        self.client_id = client_id
        self.client_secret = client_secret
        self.audience = audience
        self.scope = scope
        self.renew_margin = renew_margin
        self._token = ""
        self._expires = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if time.monotonic() >= self._expires - self.renew_margin:
                token = self.portal.client_credentials(
                    self.client_id, self.client_secret, audience=self.audience, scope=self.scope
                )
                self._token = token.access_token
                self._expires = time.monotonic() + token.expires_in
            return self._token
