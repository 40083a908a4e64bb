"""Database plumbing shared by every service: one schema each, one transaction per request."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import Depends, Request
from sqlalchemy import Date, Engine, MetaData, cast, create_engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

# Explicit constraint names make Alembic autogenerate stable and `alembic check` meaningful.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# PostgreSQL's bigint range: the upper bound of every id, cursor and offset a client may send.
BIGINT_MAX = 2**63 - 1


def make_metadata(schema: str) -> MetaData:
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    return create_engine(
        url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True, connect_args={"application_name": "jincheng"}
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: the request's one transaction, committed once when the endpoint returns.

    Service functions only add and flush. An exception anywhere rolls everything back, so a state
    change and its audit event are stored together or not at all.
    """
    factory: Callable[[], Session] = request.app.state.session_factory
    session = factory()
    try:
        yield session
        session.commit()
        relay = getattr(request.app.state, "relay", None)
        if relay is not None:
            relay.wake()  # ship this request's audit events now rather than at the next poll
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# Endpoints take the session as ``session: DbSession``. ``scope="function"`` makes FastAPI run the
# commit before the response is sent: with the default ("request") scope the client would be told
# "201 Created" before the commit, and a commit that then fails would have been reported as success.
DbSession = Annotated[Session, Depends(get_session, scope="function")]


def db_now(session: Session) -> datetime:
    """The database's wall clock *now* (``clock_timestamp()``, not the transaction start).

    Deadlines are decided by this clock, never by the app server's, so every replica agrees.
    """
    value = session.execute(select(func.clock_timestamp())).scalar_one()
    if not isinstance(value, datetime):  # pragma: no cover - PostgreSQL always returns timestamptz
        raise TypeError("clock_timestamp() did not return a timestamp")
    return value


# Today's date in Jincheng (Asia/Shanghai) by the database clock, as an SQL expression: for a query
# that needs the date beside what it reads (one round trip, not two).
TODAY_IN_JINCHENG = cast(func.timezone("Asia/Shanghai", func.clock_timestamp()), Date)


def db_today(session: Session) -> date:
    """Today's date in Jincheng (Asia/Shanghai) by the database clock: legal periods count local days."""
    value = session.execute(select(TODAY_IN_JINCHENG)).scalar_one()
    if not isinstance(value, date):  # pragma: no cover - PostgreSQL returns a date for ::date
        raise TypeError("the database did not return a date")
    return value


def alembic_head(service: str) -> str | None:
    """The head revision of ``migrations/<service>`` as the code on disk knows it."""
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations" / service))
    return ScriptDirectory.from_config(cfg).get_current_head()


def database_revision(session: Session, schema: str) -> str | None:
    """The revision recorded in ``<schema>.alembic_version``, or None before the first migration."""
    exists = session.execute(
        text("select to_regclass(:name) is not null"), {"name": f"{schema}.alembic_version"}
    ).scalar_one()
    if not exists:
        return None
    return session.execute(text(f'select version_num from "{schema}".alembic_version')).scalar()  # noqa: S608


def insert_new(session: Session, row: object) -> bool:
    """Insert ``row`` now; False (and the transaction still usable) if it breaks a unique constraint,
    e.g. a concurrent request inserted the same key between our look-up and this insert.

    The row is added inside the savepoint: ``begin_nested()`` flushes whatever is pending first, so a
    duplicate added before it would abort the whole transaction instead of only the savepoint."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def commit_before_answering(session: Session) -> None:
    """Commit now, in the endpoint, rather than in the session dependency's teardown: on every path
    that holds a lock other requests queue behind (a row lock, an advisory lock).

    For a ``def`` endpoint FastAPI validates the response in its thread pool *before* that teardown
    runs. When every pool thread is a request waiting for the same lock, the holder would wait for a
    thread to serialise its answer and never commit: a deadlock. Committed here, the lock is released
    while the request still has its thread."""
    session.commit()
