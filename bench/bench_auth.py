"""What authentication costs: verify_token() against a bare ES256 signature check, and an
authenticated request against an unauthenticated one on the same running trading service.

Ratios matter, not absolute numbers: both sides of each ratio run in the same process, minutes
apart at most, on the same noisy machine.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from jose import jws

from services.trading.app import create_app
from services.trading.settings import TradingSettings
from shared.auth.deps import Authenticator
from shared.auth.keys import StaticKeySource
from shared.auth.revocations import StaticRevocations
from shared.auth.tokens import verify_token
from shared.db import make_engine
from tests.support.tokens import TestIssuer
from tools import devdb, migrate

RESULTS = Path(__file__).parent / "results" / "auth.json"


def rate(fn: Callable[[], object], seconds: float = 1.5) -> float:
    """Calls per second over ``seconds`` (best of three rounds, to damp scheduler noise)."""
    rounds = []
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            fn()
            n += 1
        rounds.append(n / (time.perf_counter() - start))
    return max(rounds)


def latencies_ms(fn: Callable[[], object], n: int = 400) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(n * 0.99) - 1]


def main() -> int:
    issuer = TestIssuer()
    token = issuer.token(roles=["operator"], aud="trading")
    keys = StaticKeySource([issuer.jwk])
    revocations = StaticRevocations()

    bare = rate(lambda: jws.verify(token, issuer.jwk, algorithms=["ES256"]))
    ours = rate(
        lambda: verify_token(token, audience="trading", issuer="jincheng-portal", keys=keys, revocations=revocations)
    )

    # A real trading app with a database: /health (no auth, no DB) against GET /venues/<missing>
    # (token verified, one indexed lookup), i.e. the fixed cost every authenticated call pays.
    url = devdb.start(Path("var/bench-pgdata").resolve())
    try:
        migrate.upgrade_all(url, services=("trading",))
        settings = TradingSettings(environment="test", relay_enabled=False, database_url=url)
        app = create_app(
            settings,
            engine=make_engine(settings.sqlalchemy_url()),
            authenticator=Authenticator(audience="trading", keys=keys, revocations=revocations),
        )
        headers = {"Authorization": f"Bearer {token}"}
        missing = "/venues/00000000-0000-0000-0000-000000000000"
        with TestClient(app) as client:
            if client.get(missing, headers=headers).status_code != 404:
                raise RuntimeError("the authenticated lookup did not answer as expected; the figures would be wrong")
            health = rate(lambda: client.get("/health"))
            authed = rate(lambda: client.get(missing, headers=headers))
            p50, p99 = latencies_ms(lambda: client.get(missing, headers=headers))
    finally:
        devdb.stop(Path("var/bench-pgdata").resolve())

    figures = {
        "verify_token_per_s": round(ours),
        "bare_es256_verify_per_s": round(bare),
        "verify_token_ratio_to_bare": round(ours / bare, 3),
        "unauthenticated_health_req_per_s": round(health),
        "authenticated_lookup_req_per_s": round(authed),
        "authenticated_ratio_to_health": round(authed / health, 3),
        "authenticated_lookup_p50_ms": round(p50, 2),
        "authenticated_lookup_p99_ms": round(p99, 2),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
    print(f"written to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
