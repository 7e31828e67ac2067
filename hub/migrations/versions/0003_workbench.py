"""The staff workbench: accounts, sessions, sign-in attempts, the audit log, alert and follow-up
state, refused shift reviews and consent withdrawals.

New tables, and two partial indexes on the records (alerts and follow-ups by station and time); no
record is changed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the workbench's tables and their indexes (two partial indexes on the records)."""
    for name, kind in (("hub_records_alerts", "health_alert"), ("hub_records_follow_ups", "service_follow_up")):
        where = sa.text(f"kind = '{kind}'")
        op.create_index(name, "hub_records", ["station", "ts"], sqlite_where=where, postgresql_where=where)
    op.create_table(
        "hub_shift_rejections",
        sa.Column("station", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "hub_consent_withdrawals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_key", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("stations", sa.Text, nullable=False),
        sa.Column("deleted", sa.Integer, nullable=False),
    )
    op.create_table(
        "web_users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("stations", sa.Text, nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("web_sessions_user", "web_sessions", ["user_id"])
    op.create_table(
        "web_login_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
    )
    op.create_index("web_login_attempts_user_at", "web_login_attempts", ["username", "at"])
    op.create_index("web_login_attempts_addr_at", "web_login_attempts", ["address", "at"])
    op.create_table(
        "web_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("station", sa.String(64)),
        sa.Column("target", sa.String(128)),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
    )
    op.create_index("web_audit_at", "web_audit", ["at"])
    op.create_table(
        "web_alert_state",
        sa.Column("station", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.Column("acknowledged_by", sa.String(64)),
        sa.Column("action", sa.String(32)),
        sa.Column("note", sa.Text),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_by", sa.String(64)),
    )
    op.create_table(
        "web_follow_up_state",
        sa.Column("station", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("assignee", sa.String(64)),
        sa.Column("note", sa.Text),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("closed_by", sa.String(64)),
    )


def downgrade() -> None:
    """Drop the workbench's tables (their data with them) and its record indexes."""
    op.drop_index("hub_records_follow_ups", "hub_records")
    op.drop_index("hub_records_alerts", "hub_records")
    for table in ("web_follow_up_state", "web_alert_state", "web_audit", "web_login_attempts", "web_sessions",
                  "web_users", "hub_consent_withdrawals", "hub_shift_rejections"):
        op.drop_table(table)
