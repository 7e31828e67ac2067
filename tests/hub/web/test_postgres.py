"""The workbench's queries answer the same on PostgreSQL as on SQLite (JSON fields, partial indexes,
grouped counts), over the same demo day."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hub import residents
from hub.reviews import pending_reviews
from hub.screening import station_month
from hub.store import HubStore
from hub.web import today, work
from hub.web.demo import STATIONS, person, seed

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)


def _answers(engine) -> dict:
    month = (NOW - timedelta(days=3)).astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m")
    return {
        "alerts": [(a.values, a.state) for a in work.alerts(engine, (STATIONS[0],), open_only=False)],
        "open": work.open_alert_counts(engine, None),
        "follow_ups": [(f.volunteer_id, f.rating) for f in work.follow_ups(engine, None)],
        "follow_counts": today.follow_up_counts(engine, None),
        "reviews": [(r["volunteer_id"], r["proposed_hours"]) for r in pending_reviews(engine)],
        "screening": station_month(engine, month),
        "residents": [(p["person_key"], p["records"]) for p in residents.find(engine, person(90)[:12], None)],
    }


def test_postgres_answers_like_sqlite(tmp_path, pg_schema_url):
    lite = HubStore(str(tmp_path / "hub.sqlite3")).engine
    pg = HubStore(pg_schema_url).engine
    for engine in (lite, pg):
        seed(engine, now=NOW, accounts=False)
    expected = _answers(lite)
    assert expected["alerts"] and expected["reviews"] and expected["screening"] and expected["residents"]
    assert _answers(pg) == expected
