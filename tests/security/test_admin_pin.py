"""Issue 11, item 11: guessing the admin PIN at the public screen.

Before: 5 tries per 300 s, no escalation, 4-digit PINs: 10,080 guesses a week, every 4-digit PIN.
Now: each lockout doubles (up to a day), the escalation survives restarts and only a correct PIN
resets it, PINs have 6 to 12 digits and the hash is scrypt.
"""
from __future__ import annotations

import json

import pytest

from kiosk.admin import PinGate
from kiosk.i18n import gettext
from kiosk.journal import Journal
from kiosk.settings import DEMO_ADMIN_PIN, hash_pin
from tests.security.helpers import tap_text

WEEK = 7 * 24 * 3600
PIN = "735194"


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.slow
def test_a_week_of_guessing_at_the_screen_tries_a_few_dozen_pins(tmp_path):
    clock = Clock()
    stored = hash_pin(PIN)
    path = tmp_path / Journal.FILENAME
    start, guesses, restarts = clock.t, 0, 0
    journal = Journal(path, "st-pin")
    try:
        gate = PinGate(stored, 5, 300, journal, clock)
        while clock.t - start < WEEK and guesses <= 150:
            locked = gate.locked_for()
            if locked:
                clock.t += locked                      # the attacker waits out every lockout …
                journal.close()                        # … and the kiosk restarts meanwhile
                journal = Journal(path, "st-pin")
                gate = PinGate(stored, 5, 300, journal, clock)
                restarts += 1
                continue
            assert not gate.try_pin(f"{100000 + guesses:06d}").ok
            guesses += 1
    finally:
        journal.close()
    years_for_half = 10 ** 6 / 2 / guesses / 52
    print(json.dumps({"guesses_per_week": guesses, "restarts": restarts,
                      "years_to_try_half_of_6_digit_pins": round(years_for_half)}))
    assert guesses <= 100, f"{guesses} guesses in a week"


def test_a_correct_pin_resets_the_escalation(tmp_path):
    clock = Clock()
    with Journal(tmp_path / Journal.FILENAME, "st-pin") as journal:
        gate = PinGate(hash_pin(PIN), 2, 60, journal, clock)
        lengths = []
        for _ in range(3):
            gate.try_pin("000000")
            lengths.append(gate.try_pin("000001").locked_for_s)
            clock.t += lengths[-1]
        assert lengths == [60, 120, 240]
        assert gate.try_pin(PIN).ok
        gate.try_pin("000000")
        assert gate.try_pin("000001").locked_for_s == 60


@pytest.mark.slow
def test_the_pin_pad_wants_six_digits(harness):
    shell = harness.shell
    shell.go("admin_pin")
    harness.frames(2)
    for key in "2468":
        tap_text(harness, key)
    tap_text(harness, gettext("OK"))
    pad = harness.screen("admin_pin")
    assert shell.manager.current == "admin_pin"
    assert "6" in pad.message and "位" in pad.message
    assert [r.payload.action for r in harness.ctx.journal.records("admin_event")] == []   # no try used up
    for key in DEMO_ADMIN_PIN:
        tap_text(harness, key)
    tap_text(harness, gettext("OK"))
    assert shell.manager.current == "admin"
    shell.home()
