"""Every portal table, imported in one place for Alembic."""

from services.portal.db import Base, OutboxEvent
from services.portal.identity.models import CertChallenge, Organisation, RefreshToken, User
from services.portal.keys.models import SigningKey
from services.portal.oauth.models import ApiClient

__all__ = ["ApiClient", "Base", "CertChallenge", "Organisation", "OutboxEvent", "RefreshToken", "SigningKey", "User"]
