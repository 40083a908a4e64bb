"""Services of 一网三平台 plus the expert pool; each is its own FastAPI app and process."""
