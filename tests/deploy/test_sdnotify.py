"""sd_notify and the watchdog gate: pings only while every loop beats; structured journald records."""
from __future__ import annotations

import logging
import socket
import struct
import time

import pytest

from kiosk.journald import JournalHandler, encode_fields, setup_journald
from kiosk.sdnotify import Watchdog, notify, watchdog_interval


@pytest.fixture()
def dgram(tmp_path):
    path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.5)
    yield path, sock
    sock.close()


def _drain(sock) -> list[bytes]:
    out = []
    sock.settimeout(0.05)
    try:
        while True:
            out.append(sock.recv(65536))
    except TimeoutError:
        return out


def test_notify_sends_to_the_socket_and_is_silent_outside_systemd(dgram):
    path, sock = dgram
    assert notify("READY=1", {"NOTIFY_SOCKET": str(path)})
    assert sock.recv(100) == b"READY=1"
    assert not notify("READY=1", {})
    assert not notify("READY=1", {"NOTIFY_SOCKET": str(path) + ".gone"})        # logged, never raised


def test_watchdog_interval_honours_watchdog_pid():
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({}) is None and watchdog_interval({"WATCHDOG_USEC": "x"}) is None


def test_a_stuck_loop_stops_the_pings(dgram, caplog):
    path, sock = dgram
    dog = Watchdog(stale_s=0.3, env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "200000"})
    dog.beat("publisher")
    assert dog.tick("ui") and sock.recv(100) == b"WATCHDOG=1"
    assert not dog.tick("ui")                        # at most twice per watchdog interval
    time.sleep(0.35)                                 # the publisher stops beating; the UI goes on
    with caplog.at_level(logging.ERROR):
        assert not dog.tick("ui")
    assert dog.stuck() == ["publisher"] and "publisher stopped beating" in caplog.text
    assert _drain(sock) == []
    dog.beat("publisher")
    assert dog.tick("ui") and sock.recv(100) == b"WATCHDOG=1"


def test_journal_records_carry_structured_fields_and_no_id_number(dgram):
    path, sock = dgram
    handler = JournalHandler({"YIZHAN_STATION": "st-1"}, socket_path=str(path))
    log = logging.getLogger("yizhan.test.journald")
    log.addHandler(handler)
    try:
        log.warning("card 11010519491231002X read\nsecond line")
    finally:
        log.removeHandler(handler)
        handler.close()
    raw = sock.recv(65536)
    fields = {}
    while raw:
        name, sep, rest = raw.partition(b"\n")
        if b"=" in name:
            key, _, value = name.partition(b"=")
            fields[key.decode()], raw = value.decode(), rest
        else:
            size = struct.unpack("<Q", rest[:8])[0]
            fields[name.decode()], raw = rest[8:8 + size].decode(), rest[9 + size:]
    assert fields["PRIORITY"] == "4" and fields["YIZHAN_STATION"] == "st-1"
    assert fields["LOGGER"] == "yizhan.test.journald" and fields["CODE_FUNC"].startswith("test_journal")
    assert "second line" in fields["MESSAGE"] and "11010519491231002X" not in fields["MESSAGE"]


def test_setup_journald_only_under_systemd(dgram):
    path, _sock = dgram
    assert setup_journald(env={}, socket_path=str(path)) is None
    assert encode_fields({"A": "x"}) == b"A=x\n"
    handler = setup_journald(env={"JOURNAL_STREAM": "8:1"}, socket_path=str(path), STATION="s")
    try:
        assert handler.fields == {"YIZHAN_STATION": "s"} and handler in logging.getLogger().handlers
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
