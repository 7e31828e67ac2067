"""End to end: a card placed on the simulated SAM reader (real protocol over a pty) greets the
person on the real window; errors are shown; the full ID number is nowhere in the data directory."""
from __future__ import annotations

import dataclasses
import time

import pytest

from drivers.sim.idcard import SAMPLE_CARDS, IdCardSimulator
from kiosk.identify_sources import IdentitySources
from kiosk.settings import DeviceSettings
from tests.support.touch import press


@pytest.fixture()
def rig(harness, tmp_path):
    sim = IdCardSimulator(link=str(tmp_path / "idcard"), baudrate=115200).start()
    ctx = harness.ctx
    devices = {"idcard": DeviceSettings(driver="sam", port=sim.path, baudrate=115200,
                                        options={"poll_interval": 0.05})}
    settings = dataclasses.replace(ctx.settings, devices=devices)
    sources = IdentitySources(settings, ctx.services["identity"], ctx.status,
                              post=harness.post,
                              on_event=harness.shell.on_identity_event)
    sources.start()
    yield sim
    sources.stop()
    sim.stop()
    harness.shell.home()


def pump_until(harness, predicate, timeout=10.0) -> bool:
    return harness.pump_until(predicate, timeout)


def texts(widget) -> str:
    return "\n".join(getattr(w, "text", "") for w in widget.walk(restrict=True))


def test_card_to_consent_to_greeting_and_errors(harness, rig):
    shell = harness.shell
    shell.home()
    harness.frames(2)
    press(harness, "健康自测")
    assert shell.manager.current == "identify"

    rig.present("resident_expired")
    assert pump_until(harness, lambda: "过期" in harness.screen("identify").message)
    rig.remove()
    assert pump_until(harness, lambda: harness.ctx.status.get("idcard").get("card") is False)

    rig.present("resident")
    assert pump_until(harness, lambda: shell.manager.current == "consent")
    harness.frames(2)
    press(harness, "同意，继续", frames=3)
    assert shell.manager.current == "greeting"
    assert "测*甲，您好！" in texts(shell)
    assert harness.ctx.session.person.masked_id == "310***********1230"

    # The card stays on the reader: it is not read again (one read per presentation).
    visits = harness.ctx.journal.count("visit")
    time.sleep(0.3)
    harness.frames(3)
    assert harness.ctx.journal.count("visit") == visits


def test_card_pulled_mid_read_says_what_to_do(harness, rig):
    shell = harness.shell
    shell.home()
    harness.frames(2)
    press(harness, "健康自测")
    rig.fault("pull")
    rig.present("resident_young")
    assert pump_until(harness, lambda: bool(harness.screen("identify").message))
    assert harness.screen("identify").message_color == pytest.approx(__import__("screens.theme").theme.DANGER)
    assert shell.manager.current == "identify"


def test_no_full_id_number_anywhere_in_the_data_directory(harness, rig):
    harness.shell.home()
    harness.frames(2)
    press(harness, "健康自测")
    rig.present("resident_young")
    assert pump_until(harness, lambda: harness.shell.manager.current in ("consent", "greeting"))
    from kiosk.logs import setup_logging
    setup_logging(harness.ctx.settings.data_dir)
    import logging
    for handler in logging.getLogger().handlers:
        handler.flush()
    numbers = [c.expected.number.encode() for c in SAMPLE_CARDS.values()]
    names = [c.expected.name.encode("utf-8") for c in SAMPLE_CARDS.values()]
    leaks = []
    for path in harness.ctx.settings.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            leaks += [f"{path.name}: number" for n in numbers if n in data]
            leaks += [f"{path.name}: name" for n in names if n in data]
    assert not leaks, leaks
