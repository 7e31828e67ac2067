"""PC/SC driver against a real pcscd with vsmartcard's vpcd and the in-repo virtual card.

vpcd readers: 'Virtual PCD 00 00' = TCP 35963, 'Virtual PCD 00 01' = TCP 35964. Queue timeouts
below only guard against hangs; no assertion depends on how fast anything is.
"""
from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading

import pytest
from hypothesis import given, settings, strategies as st
from smartcard import scard

import drivers.pcsc
from drivers.errors import DriverError
from drivers.pcsc import (STATUS_WORDS, CardEndOfData, CardError, CardLifted,
                          CardNotSupported, CardOperationFailed, CardReadTimeout, CardRemoved,
                          CardStatusError, CardTapped, CardUnknownStatus, CardWrongLength, NoReader,
                          PcscReader, PcscServiceDown, ReaderStatus, check_status, list_readers,
                          read_uid_once)
from drivers.sim.pcsc import VirtualCard, parse_fault
from kiosk.i18n import gettext
from tests.support.services import wait_for

R0, R1 = "Virtual PCD 00 00", "Virtual PCD 00 01"
P0, P1 = 35963, 35964
UID = "04A1B2C3"
GUARD = 10.0    # hang guard for queue waits, not a speed requirement

# vpcd's readers are machine-wide (fixed ports): one xdist worker runs this whole module.
pytestmark = pytest.mark.xdist_group("pcscd")


class Events:
    """Collects a PcscReader's events on a queue."""

    def __init__(self) -> None:
        self.q: queue.Queue = queue.Queue()
        self.all: list = []

    def __call__(self, event) -> None:
        self.all.append(event)
        self.q.put(event)

    def next(self, kind, pred=lambda e: True):
        """The next event of type ``kind`` matching ``pred`` (others are skipped)."""
        while True:
            event = self.q.get(timeout=GUARD)
            if isinstance(event, kind) and pred(event):
                return event


def _present(name: str) -> bool:
    """True if pcscd reports a card on reader ``name`` right now."""
    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        return False
    try:
        hr, states = scard.SCardGetStatusChange(ctx, 0, [(name, scard.SCARD_STATE_UNAWARE)])
        return hr == scard.SCARD_S_SUCCESS and bool(states[0][1] & scard.SCARD_STATE_PRESENT)
    finally:
        scard.SCardReleaseContext(ctx)


@pytest.fixture()
def watch(pcscd):
    """Start a PcscReader on a prefix; stopped (and checked to stop) afterwards."""
    readers: list[PcscReader] = []

    def start(prefix: str = R0, **kw) -> tuple[PcscReader, Events]:
        events = Events()
        reader = PcscReader(prefix, poll_s=0.2, on_event=events, **kw).start()
        readers.append(reader)
        if prefix.startswith("Virtual"):
            assert events.next(ReaderStatus).state == "connected"
        return reader, events

    yield start
    for reader in readers:
        reader.stop()
        assert not reader.running


@pytest.fixture()
def cards():
    """Virtual cards inserted during a test, removed afterwards."""
    made: list[VirtualCard] = []

    def insert(uid: str = UID, port: int = P0, fault: str | None = None) -> VirtualCard:
        card = VirtualCard(uid, port=port, fault=fault).insert()
        made.append(card)
        return card

    yield insert
    for card in made:
        card.remove()
    # pcscd notices a removal at its next poll; let it, so the next test starts with empty readers
    assert wait_for(lambda: not (_present(R0) or _present(R1)), GUARD)


# -- status words, no pcscd needed --------------------------------------------------------
@pytest.mark.parametrize("sw, cls", [
    ((0x63, 0x00), CardOperationFailed), ((0x6A, 0x81), CardNotSupported), ((0x62, 0x82), CardEndOfData),
    ((0x6C, 0x07), CardWrongLength), ((0x6D, 0x00), CardNotSupported), ((0x12, 0x34), CardUnknownStatus),
])
def test_status_word_table(sw, cls):
    with pytest.raises(cls) as exc:
        check_status(*sw)
    assert (exc.value.sw1, exc.value.sw2) == sw
    assert f"{sw[0]:02X}{sw[1]:02X}" in str(exc.value)
    assert isinstance(exc.value, DriverError)


def test_wrong_length_reports_exact_length():
    with pytest.raises(CardWrongLength) as exc:
        check_status(0x6C, 0x07)
    assert exc.value.exact_length == 7


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255))
def test_fuzz_status_words(sw1, sw2):
    try:
        check_status(sw1, sw2)
        assert (sw1, sw2) == (0x90, 0x00)
    except CardStatusError as exc:
        assert gettext(exc.user_message, "zh_CN") != exc.user_message


def test_the_pcsc_codes_are_pyscards():
    names = [n for n in dir(drivers.pcsc) if n.startswith("SCARD_")]
    assert len(names) > 20
    assert {n: getattr(drivers.pcsc, n) for n in names} == {n: getattr(scard, n) for n in names}


def test_access_denied_while_pcscd_stops_is_the_service_going_down(monkeypatch):
    # The race cannot be forced with a real pcscd: while it shuts down, a pending reader wait may come
    # back "Access denied" (0x8010006A) instead of "service stopped". Only that one call is replaced.
    monkeypatch.setattr(scard, "SCardGetStatusChange", lambda ctx, ms, states: (scard.SCARD_W_SECURITY_VIOLATION, []))
    with pytest.raises(PcscServiceDown, match="pcscd is stopping"):
        drivers.pcsc._wait_change(0, R0, scard.SCARD_STATE_UNAWARE, 0.1)


def test_user_messages_have_chinese():
    for cls in {cls for cls, _ in STATUS_WORDS.values()} | {CardRemoved, PcscServiceDown, NoReader, CardReadTimeout}:
        assert gettext(cls.user_message, "zh_CN") != cls.user_message, cls


def test_sim_answers_without_pcscd():
    card = VirtualCard("04A1B2C3")
    assert card.answer(bytes.fromhex("FFCA000000")) == bytes.fromhex("04A1B2C39000")
    assert card.answer(bytes.fromhex("FFCA000002")) == bytes.fromhex("04A19000")
    assert card.answer(bytes.fromhex("FFCA010000")) == bytes.fromhex("6A81")
    assert card.answer(bytes.fromhex("00A4040000")) == bytes.fromhex("6D00")
    assert VirtualCard("04A1B2C3", fault="wrong-le").answer(bytes.fromhex("FFCA000000")) == bytes.fromhex("6C04")
    with pytest.raises(ValueError):
        parse_fault("sw:XYZ")


# -- against the real pcscd -------------------------------------------------------------
def test_readers_listed(pcscd):
    assert {R0, R1} <= set(list_readers())


def test_read_uid_once_sends_get_data(pcscd, cards):
    card = cards()
    tap = read_uid_once("Virtual PCD 00 00", timeout=GUARD)
    assert (tap.uid, tap.reader) == (UID, R0)
    assert tap.atr == "3B8F8001804F0CA000000306030001000000006A"
    assert tap.detected_at <= tap.at
    assert bytes.fromhex("FFCA000000") in card.apdus          # PC/SC GET DATA, UID, Le = all


def test_read_uid_once_timeout_and_missing_reader(pcscd):
    with pytest.raises(CardReadTimeout):
        read_uid_once(R1, timeout=0.3)
    with pytest.raises(NoReader) as exc:
        read_uid_once("ACS ACR122", timeout=0.3)
    assert R0 in str(exc.value)                               # tells the installer what is attached


def test_tap_and_lift_events(watch, cards):
    reader, events = watch(R0)
    card = cards("04112233445566")
    tap = events.next(CardTapped)
    assert (tap.uid, tap.reader) == ("04112233445566", R0)
    assert tap.detected_at <= tap.at
    card.remove()
    assert events.next(CardLifted).reader == R0
    card2 = cards("0A0B0C0D")
    assert events.next(CardTapped).uid == "0A0B0C0D"
    card2.remove()
    events.next(CardLifted)
    assert not [e for e in events.all if isinstance(e, CardError)]


def test_card_already_on_reader_at_start(pcscd, watch, cards):
    cards()
    wait_for(lambda: _present(R0), 5)
    _, events = watch(R0)
    assert events.next(CardTapped).uid == UID


def test_reader_prefix_selection(watch, cards):
    _, ev0 = watch(R0)
    _, ev1 = watch("Virtual PCD 00 01")
    card = cards("DEADBEEF", port=P1)
    tap = ev1.next(CardTapped)
    assert (tap.uid, tap.reader) == ("DEADBEEF", R1)
    card.remove()
    ev1.next(CardLifted)
    assert not [e for e in ev0.all if isinstance(e, (CardTapped, CardLifted, CardError))]


def test_no_matching_reader_is_a_status(watch):
    reader, events = watch("ACS ACR122")
    status = events.next(ReaderStatus)
    assert status.state == "no_reader"
    assert isinstance(status.error, NoReader) and R0 in status.detail
    assert reader.running                                     # keeps retrying, no crash


@pytest.mark.parametrize("fault, cls", [
    ("fail", CardOperationFailed), ("sw:6A81", CardNotSupported), ("sw:6282", CardEndOfData),
    ("sw:6C09", CardWrongLength), ("sw:1234", CardUnknownStatus),
])
def test_error_status_words_become_error_events(watch, cards, fault, cls):
    _, events = watch(R0)
    cards(fault=fault)
    err = events.next(CardError)
    assert isinstance(err.error, cls) and err.reader == R0
    with pytest.raises(cls):
        read_uid_once(R0, timeout=GUARD)


def test_wrong_le_is_retried_with_the_exact_length(pcscd, cards):
    card = cards("04A1B2C3D4E5F6", fault="wrong-le")
    assert read_uid_once(R0, timeout=GUARD).uid == "04A1B2C3D4E5F6"
    assert card.apdus[-2:] == [bytes.fromhex("FFCA000000"), bytes.fromhex("FFCA000007")]


def test_card_pulled_mid_apdu(watch, cards):
    reader, events = watch(R0)
    card = cards(fault="drop")
    err = events.next(CardError)
    assert isinstance(err.error, CardRemoved)
    assert err.error.user_key == "card_removed"
    events.next(CardLifted)
    assert wait_for(lambda: not card.inserted, 5)
    cards("01020304")                                        # the worker is still alive and reads the next card
    assert events.next(CardTapped).uid == "01020304"
    assert reader.running


def test_handler_exception_does_not_kill_worker(watch, cards):
    seen: queue.Queue = queue.Queue()

    def bad_handler(event):
        seen.put(event)
        raise RuntimeError("handler bug")

    reader = PcscReader(R0, poll_s=0.2, on_event=bad_handler).start()
    try:
        assert seen.get(timeout=GUARD).state == "connected"
        cards()
        while not isinstance(ev := seen.get(timeout=GUARD), CardTapped):
            pass
        assert ev.uid == UID and reader.running
    finally:
        reader.stop()


def test_stop_is_prompt_even_with_long_poll(pcscd):
    events = Events()
    reader = PcscReader(R0, poll_s=30, on_event=events).start()
    assert events.next(ReaderStatus).state == "connected"
    done = threading.Event()
    threading.Thread(target=lambda: (reader.stop(timeout=GUARD), done.set()), daemon=True).start()
    assert done.wait(GUARD)           # SCardCancel wakes the 30 s wait
    assert not reader.running


# -- command line -----------------------------------------------------------------------------
def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_sim_cli_and_probe(pcscd):
    sim = _cli("sim", "pcsc", "--uid", "04C0FFEE", "--port", str(P1), "--seconds", "30")
    try:
        assert json.loads(sim.stdout.readline()) == {"event": "inserted", "uid": "04C0FFEE", "port": P1}
        probe = _cli("probe", "pcsc", "--reader", "Virtual PCD 00 01", "--timeout", "10")
        out, err = probe.communicate(timeout=30)
        assert probe.returncode == 0, err
        doc = json.loads(out)
        assert (doc["uid"], doc["reader"]) == ("04C0FFEE", R1)
        assert set(doc["timings_ms"]) == {"list_readers", "wait_for_card", "read_uid", "total"}
    finally:
        sim.terminate()
        out, _ = sim.communicate(timeout=10)
    assert sim.returncode == 0
    removed = json.loads(out.strip().splitlines()[-1])
    assert removed["event"] == "removed" and removed["apdus"] >= 1
    assert wait_for(lambda: not _present(R1), GUARD)


def test_sim_cli_removes_after_seconds(pcscd):
    sim = _cli("sim", "pcsc", "--uid", "0102", "--seconds", "0.5")
    out, err = sim.communicate(timeout=30)
    assert sim.returncode == 0, err
    assert [json.loads(line)["event"] for line in out.splitlines()] == ["inserted", "removed"]
    assert wait_for(lambda: not _present(R0), GUARD)
    bad = _cli("sim", "pcsc", "--uid", "zz")
    assert bad.communicate(timeout=30)[1].startswith("error:") and bad.returncode == 2


def test_probe_errors(pcscd):
    probe = _cli("probe", "pcsc", "--reader", "NoSuchReader", "--timeout", "0.5")
    out, err = probe.communicate(timeout=30)
    assert probe.returncode == 1
    doc = json.loads(out)
    assert doc["error"] == "NoReader" and R0 in doc["readers"]
    assert "attached" in err
    probe = _cli("probe", "pcsc", "--reader", R1, "--timeout", "0.3")
    out, _ = probe.communicate(timeout=30)
    assert probe.returncode == 1 and json.loads(out)["error"] == "CardReadTimeout"


# -- pcscd stopped and restarted: keep last, it restarts the session's daemon -------------------
def test_pcscd_stop_and_restart(pcscd, cards):
    if pcscd.proc is None:
        pytest.skip("pcscd was already running before this test session; it is not ours to restart")
    events = Events()
    reader = PcscReader(R0, poll_s=0.2, on_event=events, retry_max_s=0.5).start()
    try:
        assert events.next(ReaderStatus).state == "connected"
        card = cards()
        assert events.next(CardTapped).uid == UID
        pcscd.stop()
        down = events.next(ReaderStatus)
        assert down.state == "service_down" and isinstance(down.error, PcscServiceDown)
        assert "pcscd" in down.detail
        assert events.next(CardLifted).reader == R0           # the card cannot be assumed present
        assert reader.running
        with pytest.raises(PcscServiceDown):
            read_uid_once(R0, timeout=0.5)
        with pytest.raises(PcscServiceDown):
            list_readers()
        card.remove()
        with pytest.raises(ConnectionRefusedError):
            VirtualCard(UID).insert()
        pcscd.start()
        assert events.next(ReaderStatus).state == "connected"
        cards("0BADCAFE")
        assert events.next(CardTapped).uid == "0BADCAFE"
        states = [e.state for e in events.all if isinstance(e, ReaderStatus)]
        assert states == ["connected", "service_down", "connected"]  # once down, once back
    finally:
        reader.stop()
    assert not reader.running
