"""Route one service's typed client to another service's real app, in-process.

The callee is the real FastAPI app on the same test transaction (so both services' writes roll back
together); only the network hop is replaced. End-to-end tests use real processes instead.
"""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient


class InProcessTransport(httpx.BaseTransport):
    def __init__(self, app_client: TestClient) -> None:
        self.app_client = app_client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        answer = self.app_client.request(request.method, path, headers=dict(request.headers), content=request.read())
        return httpx.Response(answer.status_code, headers=list(answer.headers.multi_items()), content=answer.content)
