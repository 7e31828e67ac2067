"""Opening a hub database: the URL, the engine settings, and a schema at the newest revision.

``--db`` is a SQLAlchemy URL or a SQLite file path; SQLite gets WAL, FULL sync and ``BEGIN
IMMEDIATE`` transactions, PostgreSQL a pre-pinged pool. :func:`open_engine` brings the schema to the
newest migration when asked (:mod:`hub.schema`) and otherwise refuses a database that is not current.
:func:`insert_records` and :func:`copy_new` are the bulk writes whose fastest form differs between the two.
"""
from __future__ import annotations

import importlib.util
import io
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from hub import schema

log = logging.getLogger(__name__)


class HubError(Exception):
    """The hub cannot work (database unreachable, bad URL); the text says what to fix."""

    user_key = "hub_error"


def database_url(db: str) -> str:
    """A SQLAlchemy URL from ``--db``: a URL as is, a plain path as a SQLite file."""
    if "://" in db:
        scheme, rest = db.split("://", 1)
        if scheme in ("postgresql", "postgres"):
            # SQLAlchemy 2.1 defaults to psycopg 3; use psycopg2 when that is what is installed.
            driver = "psycopg" if importlib.util.find_spec("psycopg") else "psycopg2"
            return f"postgresql+{driver}://{rest}"
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def make_engine(db: str) -> Engine:
    """An engine with the settings the hub needs (SQLite: WAL, FULL sync, BEGIN IMMEDIATE).

    Raises:
        HubError: bad URL or missing driver.
    """
    url = database_url(db)
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def _sqlite_connect(dbapi_conn, _record):
                dbapi_conn.isolation_level = None
                dbapi_conn.execute("PRAGMA journal_mode=WAL")
                dbapi_conn.execute("PRAGMA synchronous=FULL")
                dbapi_conn.execute("PRAGMA busy_timeout=30000")
                dbapi_conn.execute("PRAGMA secure_delete=ON")   # a relabelled person key is overwritten

            @event.listens_for(engine, "begin")
            def _sqlite_begin(conn):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            engine = create_engine(url, pool_pre_ping=True)
            if engine.dialect.driver == "psycopg2":
                @event.listens_for(engine, "connect")
                def _pg_connect(dbapi_conn, _record):
                    with dbapi_conn.cursor() as cur:
                        cur.execute(_STAGING)
                    dbapi_conn.commit()
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise HubError(f"cannot use the database {url!r}: {exc}") from exc
    return engine


def open_engine(db: str, migrate: bool = False) -> Engine:
    """An engine on a hub database whose schema is at the newest revision.

    Args:
        db: a SQLAlchemy URL or a SQLite file path.
        migrate: upgrade the schema when safe; otherwise refuse a database that is not current
            (and a SQLite file that does not exist, rather than create an empty one).

    Raises:
        HubError: unreachable database, or a schema that is refused or not current.
    """
    url = database_url(db)
    if not migrate and url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        raise HubError(f"no hub database at {url[len('sqlite:///'):]}: `yizhan hub migrate --db …` creates one")
    engine = make_engine(db)
    try:
        if migrate:
            before, after = schema.upgrade(engine)
            if before != after:
                log.warning("hub database schema upgraded from %s to %s", before.revision or before.state,
                            after.revision)
        else:
            schema.require_current(engine)
    except schema.SchemaError as exc:
        engine.dispose()
        raise HubError(f"{exc} ({url})") from exc
    except SQLAlchemyError as exc:
        engine.dispose()
        raise HubError(f"cannot open the hub database: {exc}") from exc
    return engine


#: The columns of a stored record, in the order :func:`insert_records` takes each row's values.
RECORD_COLUMNS = ("station", "id", "seq", "kind", "ts", "payload", "batch_id", "hub", "received_at")
#: Rows per multi-row ``INSERT … VALUES`` statement.
VALUES_CHUNK = 500
_COLUMNS = ", ".join(RECORD_COLUMNS)
#: Each PostgreSQL session's staging table for COPY (made when the session connects; every commit
#: empties it, and the statement that moves its rows on deletes them).
_STAGING = ("CREATE TEMP TABLE IF NOT EXISTS hub_incoming (station text, id text, seq bigint, kind text, ts text, "
            "payload text, batch_id text, hub text, received_at timestamptz) ON COMMIT DELETE ROWS")
#: COPY text escapes; a NUL (which no PostgreSQL text value can hold) stands for the tab between fields.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\t"})


def _copy_text(rows: Sequence[Sequence[Any]]) -> str:
    """Rows in PostgreSQL's COPY text format: tab-separated fields, backslash escapes (no value is
    NULL); one escaping pass per row."""
    stamps: dict[int, str] = {}

    def text(value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, datetime):
            return stamps.setdefault(id(value), value.isoformat())
        return str(value)
    return "".join("\0".join(map(text, row)).translate(_COPY_ESCAPES) + "\n" for row in rows)


def insert_records(conn: Connection, rows: Sequence[Sequence[Any]]) -> set[str]:
    """Store records whose (station, id) is not held yet; returns the ids this transaction added.

    Each row holds the values of :data:`RECORD_COLUMNS`. A (station, id) already stored (by an earlier
    batch, or by another hub process committing the same record meanwhile) is left as it is: ``ON
    CONFLICT DO NOTHING``, and ``RETURNING`` names exactly the rows added.

    On PostgreSQL with psycopg2 the rows travel by ``COPY``: a 500-row ``INSERT … VALUES`` (4,500
    parameters spliced into one statement text) took 2-3× as long to send and parse. New rows (the
    common batch) are copied straight into ``hub_records`` (:func:`copy_new`); when one is already
    held they go through a session-local staging table and are inserted from there in one
    statement. Elsewhere: one multi-row ``VALUES`` statement per :data:`VALUES_CHUNK` rows.
    """
    if not rows:
        return set()
    insert = f"INSERT INTO hub_records ({_COLUMNS}) "
    tail = " ON CONFLICT (station, id) DO NOTHING RETURNING id"
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
        return _copy_insert(conn, rows, insert, tail)
    ph = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    added = set()
    for i in range(0, len(rows), VALUES_CHUNK):
        chunk = rows[i:i + VALUES_CHUNK]
        values = ", ".join([f"({', '.join([ph] * len(RECORD_COLUMNS))})"] * len(chunk))
        added |= {rid for (rid,) in conn.exec_driver_sql(f"{insert}VALUES {values}{tail}",
                                                         tuple(v for row in chunk for v in row)).fetchall()}
    return added


def _copy_insert(conn: Connection, rows: Sequence[Sequence[Any]], insert: str, tail: str) -> set[str]:
    """The COPY path of :func:`insert_records`: straight into ``hub_records`` when every row is new
    (:func:`copy_new`), else by the session's staging table and ``ON CONFLICT DO NOTHING``."""
    text = _copy_text(rows)
    if _copy(conn, "hub_records", _COLUMNS, text):
        return {str(row[1]) for row in rows}
    statement = (f"WITH moved AS (DELETE FROM hub_incoming RETURNING {_COLUMNS}) "
                 f"{insert}SELECT {_COLUMNS} FROM moved{tail}")
    with _raised_as_sqlalchemys(conn, statement) as raw, raw.cursor() as cur:
        cur.copy_expert(f"COPY hub_incoming ({_COLUMNS}) FROM STDIN", io.StringIO(text))
        cur.execute(statement)
        return {rid for (rid,) in cur.fetchall()}


def copy_new(conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> bool:
    """Add ``rows`` (dicts with the same columns) to ``table`` by one ``COPY``, if they are all new.

    Only on PostgreSQL with psycopg2: a multi-row ``INSERT`` costs the server more than COPY. The
    copy runs in a savepoint: when a row's key is already held the copy fails as a whole, the
    savepoint is rolled back and nothing is added. Returns False then, and on any other database:
    the caller inserts the rows itself (with its ``ON CONFLICT`` clause).
    """
    if not rows or conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg2":
        return False
    columns = list(rows[0])
    return _copy(conn, table, ", ".join(columns), _copy_text([[r[c] for c in columns] for r in rows]))


def _copy(conn: Connection, table: str, columns: str, text: str) -> bool:
    statement = f"COPY {table} ({columns}) FROM STDIN"
    with _raised_as_sqlalchemys(conn, statement) as raw, raw.cursor() as cur:
        cur.execute("SAVEPOINT hub_copy")
        try:
            cur.copy_expert(statement, io.StringIO(text))
        except conn.dialect.loaded_dbapi.IntegrityError:
            cur.execute("ROLLBACK TO SAVEPOINT hub_copy")
            return False
        return True          # the savepoint is released with the transaction (one round trip less)


@contextmanager
def _raised_as_sqlalchemys(conn: Connection, statement: str) -> Iterator[Any]:
    """The transaction's own psycopg2 connection; its errors are raised as SQLAlchemy's (a lost
    connection as ``OperationalError``, retried by the store, the connection invalidated), like
    those of every other statement."""
    raw = conn.connection.dbapi_connection
    error = conn.dialect.loaded_dbapi.Error
    try:
        yield raw
    except error as exc:
        lost = conn.dialect.is_disconnect(exc, raw, None)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(statement, None, exc, error, connection_invalidated=lost,
                                  dialect=conn.dialect) from exc
