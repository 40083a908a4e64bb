"""Token signing keys (ES256), the JWKS, rotation, and token issuing."""
