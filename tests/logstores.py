"""Decision-log stores for tests: a SQLite file, or a fresh PostgreSQL schema.

Import ``store`` (a fixture parametrised over both) or call :func:`fresh_store` directly.
PostgreSQL comes from ``CXPLAY_TEST_DATABASE_URL`` (``.ci/run`` sets it); each store is its
own schema, named after this test session, so parallel test runs and other suites that
share the database never see each other's tables. Without the URL, PostgreSQL cases skip
locally and fail on CI (``components.need``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from components import need

SESSION = f"cxt_{os.getpid()}_{uuid.uuid4().hex[:6]}"
_counter = iter(range(1, 1_000_000))


def pg_base_url() -> str | None:
    """The PostgreSQL URL tests may use, or None."""
    return os.environ.get("CXPLAY_TEST_DATABASE_URL") or None


def _pg_available(url: str) -> bool:
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def with_schema(url: str, schema: str) -> str:
    """The URL with ``search_path`` set to ``schema`` (psycopg's ``options``)."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def _admin(url: str, statement: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A path or URL of an empty decision log, on SQLite and on PostgreSQL."""
    yield from fresh_store(request.param, tmp_path)


def fresh_store(kind: str, tmp_path: Path) -> Iterator[str]:
    """Yield an empty store of ``kind`` (``sqlite`` | ``postgresql``), dropped afterwards."""
    if kind == "sqlite":
        yield str(tmp_path / "log.db")
        return
    base = pg_base_url()
    need(
        base is not None and _pg_available(base),
        "PostgreSQL: set CXPLAY_TEST_DATABASE_URL to a reachable server",
    )
    assert base is not None
    schema = f"{SESSION}_{next(_counter)}"
    _admin(base, f'CREATE SCHEMA "{schema}"')
    try:
        yield with_schema(base, schema)
    finally:
        _admin(base, f'DROP SCHEMA "{schema}" CASCADE')
