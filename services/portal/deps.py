"""Portal-specific dependencies: its settings and key ring live on app.state."""

from __future__ import annotations

from fastapi import Request

from services.portal.keys.service import KeyRing
from services.portal.settings import PortalSettings


def portal_settings(request: Request) -> PortalSettings:
    settings: PortalSettings = request.app.state.settings
    return settings


def key_ring(request: Request) -> KeyRing:
    ring: KeyRing = request.app.state.key_ring
    return ring
