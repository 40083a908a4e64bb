"""Portal (服务平台): the single entry point. Organisations, users, API clients, login, tokens, JWKS."""
