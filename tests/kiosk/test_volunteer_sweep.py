"""The cut-off sweep reads only the shifts that can still be open, and two sweeps never overlap."""
from __future__ import annotations

from datetime import datetime

from tests.kiosk.test_volunteer import LI, TZ8, WANG, bank, clock, journal  # noqa: F401  (fixtures)


def test_sweeps_close_each_late_shift_once_and_never_skip_a_later_open_one(bank, clock, journal):  # noqa: F811
    bank.check_in(WANG, "orange", "duty")                               # day 1: closed by hand
    clock.advance(hours=2)
    bank.check_out(WANG)
    clock.wall = datetime(2025, 5, 13, 10, 0, tzinfo=TZ8)
    bank.check_in(LI, "green", "event")                                 # day 2: left open
    clock.wall = datetime(2025, 5, 14, 10, 0, tzinfo=TZ8)
    bank.check_in(WANG, "orange", "duty")                               # day 3: open, cut-off not reached yet
    first = bank.auto_close_open_shifts(datetime(2025, 5, 14, 12, 0, tzinfo=TZ8))
    assert [c.volunteer_id for c in first] == ["v-li"]
    assert bank.auto_close_open_shifts(datetime(2025, 5, 14, 12, 5, tzinfo=TZ8)) == []
    later = bank.auto_close_open_shifts(datetime(2025, 5, 14, 21, 0, tzinfo=TZ8))
    assert [c.volunteer_id for c in later] == ["v-wang"] and later[0].needs_review
    assert bank.auto_close_open_shifts(datetime(2025, 5, 15, 21, 0, tzinfo=TZ8)) == []
    assert journal.count("volunteer_check_out") == 3


def test_a_sweep_started_while_one_runs_does_nothing(bank, clock, journal):  # noqa: F811
    bank.check_in(WANG, "orange", "duty")
    clock.wall = datetime(2025, 5, 13, 10, 0, tzinfo=TZ8)
    bank.check_in(LI, "green", "event")
    inner: list = []
    journal.listeners.append(lambda rec: inner.append(bank.auto_close_open_shifts(
        datetime(2025, 5, 14, 23, 0, tzinfo=TZ8))) if rec.kind == "volunteer_check_out" else None)
    outer = bank.auto_close_open_shifts(datetime(2025, 5, 14, 23, 0, tzinfo=TZ8))
    assert len(outer) == 2 and inner == [[], []]                        # the overlapping sweeps stood aside
    assert journal.count("volunteer_check_out") == 2
