"""Screening to care at the hub: the status fold across stations (late, duplicated, out of order),
the care team's actions, consent, and the month's figures counted once."""
from __future__ import annotations

import itertools
import json
import random
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select

from hub import care, residents
from hub import models as m
from hub.store import HubStore
from kiosk.care_rules import (NORMAL, OUTCOME_RECORDED, RECHECK_DUE, REFERRAL_SUGGESTED, REFERRED, TWO_OF_THREE,
                              Reading, fold)
from sync.messages import WireRecord, encode_batch
from tests.support.payloads import complete

ANNA, BO = "a1" * 32, "b2" * 32
DAY0 = datetime(2026, 11, 1, 1, 30, tzinfo=timezone.utc)       # 09:30 in Shanghai (the door refuses the future)


class Kiosks:
    """Records as stations send them, with their own sequence numbers."""

    def __init__(self) -> None:
        self.seq = itertools.count(1)

    def bp(self, station: str, person: str, days: float, sys_: int, dia: int, rested: bool | None = True) -> WireRecord:
        n = next(self.seq)
        ts = (DAY0 + timedelta(days=days)).isoformat(timespec="milliseconds")
        payload = complete("bp_measurement", person_key=person, systolic=sys_, diastolic=dia, category="x",
                           **({"rested": rested} if rested is not None else {}))
        return WireRecord(f"{station}-{n}", station, n, "bp_measurement", ts, json.dumps(payload))

    def consent(self, station: str, person: str, days: float, granted: bool) -> WireRecord:
        n = next(self.seq)
        ts = (DAY0 + timedelta(days=days)).isoformat(timespec="milliseconds")
        return WireRecord(f"{station}-{n}", station, n, "care_consent", ts,
                          json.dumps({"person_key": person, "granted": granted}))


def send(store: HubStore, records: list[WireRecord]) -> None:
    by_station: dict[str, list[WireRecord]] = {}
    for r in records:
        by_station.setdefault(r.station, []).append(r)
    for station, rs in by_station.items():
        store.handle_records(f"yizhan/v1/{station}/records", station,
                             encode_batch(station, f"b{rs[0].seq}-{len(rs)}", rs))


def status_rows(store: HubStore) -> list[tuple]:
    c = m.care_status.c
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(c.person_key, c.track, c.status, c.station, c.since, c.due,
                                                      c.count, c.consent).order_by(c.person_key, c.track))]


def step_rows(store: HubStore) -> list[tuple]:
    s = m.care_steps.c
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(s.person_key, s.day, s.step, s.station).order_by(s.day, s.step))]


@pytest.fixture()
def store(tmp_path):
    s = HubStore(str(tmp_path / "hub.sqlite3"))
    yield s
    s.close()


def r(day: int, sys_: int, dia: int, counted: bool = True, rid: str = "", station: str = "st-a") -> Reading:
    return Reading(station, rid or f"{station}-{day}-{sys_}", "t", date(2026, 12, 1) + timedelta(days=day), "bp",
                   counted, sys_, dia)


def test_the_fold_counts_days_not_readings_and_ignores_readings_without_rest():
    assert fold("bp", [r(0, 150, 95)], []).status == RECHECK_DUE
    assert fold("bp", [r(0, 150, 95), r(0, 152, 96)], []).status == RECHECK_DUE      # same day: once
    assert fold("bp", [r(0, 150, 95), r(2, 160, 99, counted=False)], []).status == RECHECK_DUE
    assert fold("bp", [r(0, 150, 95), r(2, 148, 92)], []).status == TWO_OF_THREE
    three = fold("bp", [r(0, 150, 95), r(2, 148, 92, station="st-b"), r(9, 152, 96)], [])
    assert (three.status, three.station, three.count, three.since) == (REFERRAL_SUGGESTED, "st-a", 3,
                                                                        date(2026, 12, 10))
    assert fold("bp", [r(0, 150, 95), r(1, 118, 76), r(2, 148, 92)], []).status == RECHECK_DUE   # reset by normal
    assert fold("bp", [r(0, 150, 95), r(0, 110, 70)], []).status == NORMAL        # the day's mean 130/82.5
    assert fold("bp", [r(0, 118, 76)], []).status == NORMAL


def test_status_is_the_same_whatever_order_duplicates_and_stations_the_records_arrive_in(tmp_path):
    k = Kiosks()
    history = [k.bp("st-a", ANNA, 0, 150, 95), k.bp("st-b", ANNA, 2, 148, 92), k.bp("st-a", ANNA, 9, 152, 96),
               k.bp("st-b", ANNA, 2.01, 200, 60, rested=False),      # no rest: kept, not counted
               k.bp("st-b", BO, 2, 150, 95),                          # another resident's card: his own status
               k.consent("st-a", ANNA, 0, True)]
    results = set()
    for trial in range(4):
        s = HubStore(str(tmp_path / f"hub{trial}.sqlite3"))
        try:
            order = history[:]
            random.Random(trial).shuffle(order)
            for rec in order:
                send(s, [rec])
            send(s, history)                                          # everything again: duplicates
            results.add((tuple(status_rows(s)), tuple(step_rows(s))))
        finally:
            s.close()
    assert len(results) == 1
    rows, steps = results.pop()
    assert rows == ((ANNA, "bp", REFERRAL_SUGGESTED, "st-a", "2026-11-10", "2026-11-24", 3, True),
                    (BO, "bp", RECHECK_DUE, "st-b", "2026-11-03", "2026-11-04", 1, False))
    assert [(p, d, st) for p, d, st, _ in steps if p == ANNA] == [
        (ANNA, "2026-11-01", "elevated"), (ANNA, "2026-11-03", "rechecked"), (ANNA, "2026-11-10", "referral_suggested")]


def test_referral_and_outcome_move_the_worklist_and_are_counted_once(store):
    k = Kiosks()
    send(store, [k.consent("st-a", ANNA, 0, True), k.bp("st-a", ANNA, 0, 150, 95), k.bp("st-b", ANNA, 2, 148, 92),
                 k.bp("st-a", ANNA, 9, 152, 96)])
    today = date(2026, 11, 11)
    work = care.worklist(store.engine, ("st-a",), today)
    assert [(w["person_key"], w["status"], w["overdue"]) for w in work] == [(ANNA, REFERRAL_SUGGESTED, False)]
    assert care.worklist(store.engine, ("st-b",), today) == []                # scoped to the episode's station
    with pytest.raises(care.CareError):
        care.record_action(store.engine, ANNA, "bp", "referred", "doc", ("st-b",))
    with pytest.raises(care.CareError):
        care.record_action(store.engine, ANNA, "bp", "outcome", "doc", ("st-a",), outcome="maybe")
    at = DAY0 + timedelta(days=10)
    for _ in range(2):                                                         # a form sent twice: one referral
        assert care.record_action(store.engine, ANNA, "bp", "referred", "doc", ("st-a",), now=at) == REFERRED
    with store.engine.connect() as conn:
        assert len(conn.execute(select(m.care_events)).all()) == 1
    work = care.worklist(store.engine, None, date(2026, 11, 30))
    assert [(w["status"], w["due"], w["overdue"]) for w in work] == [(REFERRED, "2026-11-25", True)]
    assert care.record_action(store.engine, ANNA, "bp", "outcome", "doc", ("st-a",), outcome="confirmed",
                              now=at + timedelta(days=5)) == OUTCOME_RECORDED
    assert care.worklist(store.engine, None, today) == []
    send(store, [k.bp("st-b", ANNA, 20, 165, 101)])                           # managed elsewhere: no new episode
    assert status_rows(store)[0][2] == OUTCOME_RECORDED
    figures = care.month_figures(store.engine, "2026-11")
    assert figures == {"st-a": {"elevated": 1, "rechecked": 1, "referral_suggested": 1, "referred": 1, "outcome": 1,
                                "outcome_on_time": 1}}


def test_a_withdrawn_care_consent_takes_the_resident_off_the_worklist_at_once(store):
    k = Kiosks()
    send(store, [k.consent("st-a", ANNA, 0, True), k.bp("st-a", ANNA, 0, 150, 95), k.bp("st-a", ANNA, 2, 148, 92),
                 k.bp("st-a", ANNA, 9, 152, 96)])
    assert len(care.worklist(store.engine, None, date(2026, 11, 11))) == 1
    send(store, [k.consent("st-b", ANNA, 10, False)])
    assert care.worklist(store.engine, None, date(2026, 11, 11)) == []
    with pytest.raises(care.CareError):
        care.record_action(store.engine, ANNA, "bp", "referred", "doc", None)
    residents.withdraw_consent(store.engine, ANNA, None, actor="zhang")       # health consent: nothing remains
    assert status_rows(store) == [] and step_rows(store) == []


def test_refresh_reads_one_person_through_the_index(store):
    k = Kiosks()
    send(store, [k.bp("st-a", f"{i:064x}", 0, 150, 95) for i in range(300)])
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda conn, cursor, sql, params, context, many: statements.append((sql, params)))
    send(store, [k.bp("st-b", ANNA, 1, 150, 95)])
    selects = [(sql, params) for sql, params in statements if sql.lstrip().upper().startswith("SELECT")
               and ("hub_care" in sql or "hub_person_records" in sql)]
    assert selects
    with store.engine.connect() as conn:
        for sql, params in selects:
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
            assert "SCAN hub_records" not in plan and "SCAN hub_person_records" not in plan, (sql, plan)


def test_a_referral_and_its_outcome_in_the_same_second_are_both_counted():
    three = [r(0, 150, 95), r(2, 148, 92), r(9, 152, 96)]
    from kiosk.care_rules import Action
    when = date(2026, 12, 12)
    s = fold("bp", three, [Action("outcome", when, "2026-12-12T02:00:00+00:00", "not_confirmed"),
                           Action("referred", when, "2026-12-12T02:00:00+00:00")])
    assert [st.step for st in s.steps][-2:] == ["referred", "outcome"] and s.steps[-1].on_time
    assert s.status == OUTCOME_RECORDED
