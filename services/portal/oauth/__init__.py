"""API clients (county sub-platforms, our own services) and the OAuth2 client-credentials grant."""
