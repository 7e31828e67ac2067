"""Issue 11, item 8: what a stolen kiosk disk gives away.

The attack: copy the data directory (journal, log, secrets.toml), read the district key and the
person keys, and search the ID-number space for each key. Before the fix the log carried the
region prefix, the sequence and the check digit, the person key was one HMAC per guess, and a
number came back in seconds. Now the log carries no part of a number and no birth data, and each
guess costs a memory-hard scrypt derivation.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import re
import time

import pytest

from drivers.sim.idcard import SAMPLE_CARDS, IdCardSimulator
from kiosk.identify_sources import IdentitySources
from kiosk.journal import Journal
from kiosk.logs import setup_logging
from kiosk import privacy
from kiosk.settings import DeviceSettings, load_settings

RESIDENT = SAMPLE_CARDS["resident"].expected


@pytest.fixture()
def kiosk(tmp_path):
    """A real shell on the offscreen window, demo settings, a real SAM reader simulator on a pty
    and the kiosk's own log file."""
    from app.kiosk_app import HeadlessShell
    from kiosk.context import build_context

    settings = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(tmp_path / "data")})
    setup_logging(settings.data_dir)
    ctx = build_context(settings)
    harness = HeadlessShell(ctx)
    sim = IdCardSimulator(link=str(tmp_path / "idcard"), baudrate=115200).start()
    devices = {"idcard": DeviceSettings(driver="sam", port=sim.path, baudrate=115200,
                                        options={"poll_interval": 0.05})}
    sources = IdentitySources(dataclasses.replace(settings, devices=devices), ctx.services["identity"],
                              ctx.status, post=harness.post, on_event=harness.shell.on_identity_event)
    sources.start()
    yield harness, sim
    sources.stop()
    sim.stop()
    harness.close()
    ctx.close()
    for handler in list(logging.getLogger().handlers):
        if getattr(handler, "_yizhan", False):
            logging.getLogger().removeHandler(handler)
            handler.close()


def _flushed_log(data_dir) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((data_dir / "logs").glob("yizhan.log*")))


def test_the_log_keeps_no_part_of_an_id_number_and_no_birth_data(kiosk):
    harness, sim = kiosk
    harness.screen("home").choose("health")
    sim.present("resident")
    assert harness.pump_until(lambda: harness.shell.manager.current in ("consent", "greeting"))
    # A careless log call anywhere (a driver's error text, an exception) must not leak either.
    number = RESIDENT.number
    logging.getLogger("kiosk.identity").info("card %s read", number)
    logging.getLogger("drivers.idcard_sam").warning("bad check digit in %s", number[:17] + "0")
    logging.getLogger("screens.greeting").info("showing %s", "310***********1230")
    try:
        raise ValueError(f"cannot parse {number}")
    except ValueError:
        logging.getLogger("kiosk.devices").exception("reader failed")
    text = _flushed_log(harness.ctx.settings.data_dir)
    assert "reader failed" in text and "card [ID number] read" in text
    masked_or_partial = re.findall(r"\d{3}\*+\d{3}[\dX]|\d{6}\*+|\d{15,18}", text)
    assert masked_or_partial == []
    birth = RESIDENT.birth_date
    for needle in (number[:6], number[-4:], birth.strftime("%Y%m%d"), birth.isoformat(), f"{birth.year}"):
        assert needle not in text, needle


def test_a_stolen_disk_no_longer_gives_back_numbers_in_seconds(kiosk):
    harness, sim = kiosk
    harness.screen("home").choose("health")
    sim.present("resident")
    assert harness.pump_until(lambda: harness.shell.manager.current in ("consent", "greeting"))
    data_dir = harness.ctx.settings.data_dir
    secrets_text = (data_dir / "secrets.toml").read_text()
    key = bytes.fromhex(re.search(r'district_key = "([0-9a-f]+)"', secrets_text).group(1))
    with Journal(data_dir / Journal.FILENAME, "thief") as journal:
        stolen = {r.payload.person_key for r in journal.records("visit")}
    assert len(stolen) == 1

    # The thief knows everything but the 3-digit sequence: 1000 guesses.
    prefix = RESIDENT.number[:14]
    guesses = []
    for seq in range(1000):
        body = f"{prefix}{seq:03d}"
        total = sum(int(d) * w for d, w in zip(body, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)))
        guesses.append(body + "10X98765432"[total % 11])
    t0 = time.perf_counter()
    hmac_hits = [g for g in guesses if hmac.new(key, g.encode(), hashlib.sha256).hexdigest() in stolen]
    hmac_s = time.perf_counter() - t0
    assert hmac_hits == [], "the person key is still one HMAC per guess"

    # Each guess now costs one scrypt derivation with at least 8 MiB of memory.
    cost = privacy.PERSON_KEY_COST
    assert 128 * cost["n"] * cost["r"] >= 8 * 2 ** 20
    t0 = time.perf_counter()
    assert privacy.person_key(key, RESIDENT.number) in stolen
    per_guess = time.perf_counter() - t0
    print(json.dumps({"hmac_search_1000_s": round(hmac_s, 4), "scrypt_per_guess_ms": round(per_guess * 1000, 1),
                      "scrypt_search_1000_s": round(per_guess * 1000, 1)}))
