"""The hub's schema, owned by Alembic migrations (``hub/migrations``), never by ``create_all``.

:func:`upgrade` brings a database to the newest revision when that is safe: a fresh database, one at
a revision this code knows, or one made by the hub before it had migrations (its four tables exactly,
and no ``alembic_version``: stamped at the baseline, nothing recreated). A database at a revision this
code does not know (written by a newer hub) or with hub tables it cannot place is refused with
:class:`SchemaError`. The whole upgrade is one transaction under a lock (PostgreSQL advisory lock,
SQLite ``BEGIN IMMEDIATE``), so hub processes starting together migrate once.

:func:`require_current` is what reading commands use: they never change the schema.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The revision that describes the schema the hub made with ``create_all`` before migrations.
BASELINE = "0001"
#: Tables and columns of that pre-migration schema (frozen: it describes the past, not ``hub.models``).
PRE_MIGRATION_TABLES = {
    "hub_records": {"id", "station", "seq", "kind", "ts", "payload", "batch_id", "hub", "received_at"},
    "hub_dead_letters": {"id", "received_at", "topic", "station", "record_id", "reason", "size", "payload"},
    "hub_stations": {"station", "state", "last_seen", "status_ts", "app", "queue_depth", "oldest_unsynced",
                     "last_ack", "warn", "documents", "last_batch_at"},
    "hub_documents": {"doc_type", "scope", "version", "issued", "body"},
}
#: Key of the PostgreSQL advisory lock held while migrating ("yizhan" in ASCII).
_PG_LOCK = 0x79697A68616E

FRESH, PRE_MIGRATION, BEHIND, CURRENT, NEWER, FOREIGN = (
    "fresh", "pre-migration", "behind", "current", "newer", "foreign")


class SchemaError(Exception):
    """The hub database's schema cannot be used or upgraded by this code; the text says why and what to do."""


@dataclass(frozen=True)
class SchemaState:
    """Where a hub database stands against this code's migrations.

    Attributes:
        state: one of ``fresh``, ``pre-migration``, ``behind``, ``current``, ``newer``, ``foreign``.
        revision: the database's revision (None when it has none).
        head: the newest revision this code knows.
        detail: why a ``foreign`` database is refused.
    """

    state: str
    revision: str | None
    head: str
    detail: str = ""

    @property
    def upgradable(self) -> bool:
        """True when :func:`upgrade` would bring the database to the head without refusing."""
        return self.state in (FRESH, PRE_MIGRATION, BEHIND, CURRENT)

    def describe(self) -> str:
        """One line for a person: where the database stands and what to do."""
        return {
            FRESH: f"no hub tables yet; `yizhan hub migrate` creates them (revision {self.head})",
            PRE_MIGRATION: f"made before the hub had migrations; `yizhan hub migrate` stamps it at {BASELINE} "
                           f"and upgrades it to {self.head}",
            BEHIND: f"at revision {self.revision}; `yizhan hub migrate` upgrades it to {self.head}",
            CURRENT: f"at revision {self.revision} (the newest this hub knows)",
            NEWER: f"at revision {self.revision}, which this hub does not know (its newest is {self.head}): "
                   "a newer yizhan wrote it; run that version, never downgrade the schema by hand",
            FOREIGN: f"not a hub database this code can place ({self.detail}); nothing was changed",
        }[self.state]


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision in ``hub/migrations/versions``."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def _state(conn: Connection) -> SchemaState:
    script = ScriptDirectory.from_config(_config())
    head = script.get_current_head()
    heads = MigrationContext.configure(conn).get_current_heads()
    if heads:
        if len(heads) > 1:
            return SchemaState(FOREIGN, ",".join(heads), head, "several revisions at once")
        rev = heads[0]
        try:
            known = script.get_revision(rev) is not None
        except CommandError:
            known = False
        if not known:
            return SchemaState(NEWER, rev, head)
        return SchemaState(CURRENT if rev == head else BEHIND, rev, head)
    tables = {t for t in inspect(conn).get_table_names() if t.startswith("hub_")}
    if not tables:
        return SchemaState(FRESH, None, head)
    if tables != set(PRE_MIGRATION_TABLES):
        return SchemaState(FOREIGN, None, head, f"hub tables {sorted(tables)} but no alembic_version")
    for table, columns in PRE_MIGRATION_TABLES.items():
        found = {c["name"] for c in inspect(conn).get_columns(table)}
        if found != columns:
            return SchemaState(FOREIGN, None, head, f"{table} has columns {sorted(found)}")
    return SchemaState(PRE_MIGRATION, None, head)


def state(engine: Engine) -> SchemaState:
    """Where the database stands (reads only)."""
    with engine.connect() as conn:
        return _state(conn)


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")
    # SQLite: the hub's engine begins every transaction with BEGIN IMMEDIATE, a write lock already.


def upgrade(engine: Engine) -> tuple[SchemaState, SchemaState]:
    """Bring the database to the newest revision when safe; return its state before and after.

    Raises:
        SchemaError: the database is at an unknown (newer) revision or holds hub tables this code
            cannot place; nothing was changed.
    """
    with engine.begin() as conn:
        _lock(conn)
        before = _state(conn)
        if not before.upgradable:
            raise SchemaError(f"hub database: {before.describe()}")
        if before.state == CURRENT:
            return before, before
        cfg = _config(conn)
        if before.state == PRE_MIGRATION:
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, "head")
        after = _state(conn)
    return before, after


def require_current(engine: Engine) -> None:
    """Check that the database is at the newest revision, changing nothing.

    Raises:
        SchemaError: it is not; the text says what to run.
    """
    now = state(engine)
    if now.state != CURRENT:
        raise SchemaError(f"hub database: {now.describe()}")
