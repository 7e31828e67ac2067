"""Opening a hub database: the URL, the engine settings, and a schema at the newest revision.

``--db`` is a SQLAlchemy URL or a SQLite file path; SQLite gets WAL, FULL sync and ``BEGIN
IMMEDIATE`` transactions, PostgreSQL a pre-pinged pool. :func:`open_engine` brings the schema to the
newest migration when asked (:mod:`hub.schema`) and otherwise refuses a database that is not current.
"""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

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

            @event.listens_for(engine, "begin")
            def _sqlite_begin(conn):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            engine = create_engine(url, pool_pre_ping=True)
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
