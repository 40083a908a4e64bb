"""The body of every ``migrations/<service>/env.py``: one schema, its own version table."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import MetaData, create_engine, text

from shared.settings import normalise_database_url


def database_url_for(service: str) -> str:
    return normalise_database_url(
        os.environ.get(f"{service.upper()}_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    )


def run_migrations(metadata: MetaData, schema: str) -> None:
    config = context.config
    url = normalise_database_url(config.attributes.get("database_url") or database_url_for(schema))

    def include_name(name: str | None, type_: str, _parent: object) -> bool:
        # Each tree sees only its own schema, so four trees share one database without fighting.
        return name == schema if type_ == "schema" else True

    if context.is_offline_mode():
        context.configure(
            url=url,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=include_name,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    engine = create_engine(url)
    with engine.connect() as connection:
        connection.execute(text(f'create schema if not exists "{schema}"'))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=include_name,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
