"""Hub fixtures: a PostgreSQL schema of its own per test (``YIZHAN_TEST_PG_URL`` or the local server)."""
from __future__ import annotations

import os
import uuid

import psycopg2
import pytest

PG_URL = os.environ.get("YIZHAN_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_reachable() -> bool:
    """True when the test PostgreSQL server answers."""
    try:
        psycopg2.connect(PG_URL, connect_timeout=3).close()
        return True
    except psycopg2.OperationalError:
        return False


@pytest.fixture()
def pg_schema_url():
    """A URL whose search path is a fresh schema, dropped afterwards."""
    if not pg_reachable():
        pytest.skip("no PostgreSQL server reachable (set YIZHAN_TEST_PG_URL)")
    schema = f"yizhan_test_{uuid.uuid4().hex[:10]}"
    con = psycopg2.connect(PG_URL)
    con.autocommit = True
    con.cursor().execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    con.cursor().execute(f"DROP SCHEMA {schema} CASCADE")
    con.close()
