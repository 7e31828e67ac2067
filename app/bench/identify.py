"""``yizhan bench identify``: card placed → greeting drawn, against the pure wire time of the frames.

The SAM simulator paces its bytes at the real baud rate on a pty; the kiosk's real driver, identity
service (the person key's scrypt derivation, whose cost is chosen and added to the target, journal
write with fsync) and shell (offscreen window) do the rest. "Drawn" is the
first buffer swap after the greeting became the current screen. Also measured when available:
PC/SC tap → greeting (real pcscd + vpcd virtual card) and QR frame in hand → greeting.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import cv2

from app.kiosk_app import HeadlessShell
from drivers.pcsc import CardTapped, PcscReader, list_readers
from drivers.protocols import sam
from drivers.qr import QrScanner
from drivers.sim.idcard import SAMPLE_CARDS, IdCardSimulator
from drivers.sim.pcsc import VirtualCard
from drivers.sim.qr import make_token_image
from kiosk.context import build_context
from kiosk.identify_sources import IdentityEvent, IdentitySources
from kiosk.privacy import earlier_person_keys, person_key
from kiosk.settings import DeviceSettings, load_settings
from kiosk.tokens import issue_token


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan bench identify``."""
    parser.add_argument("--runs", type=int, default=20, help="cards placed (median reported)")
    parser.add_argument("--poll", type=float, default=0.02, help="reader poll interval in seconds")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--no-pcsc", action="store_true", help="skip the PC/SC measurement")
    parser.add_argument("--no-qr", action="store_true", help="skip the QR measurement")


def wire_seconds(baud: int) -> float:
    """Wire time of one find/select/read exchange (requests and responses, 10 bits per byte)."""
    requests = sum(len(sam.build_command(*c)) for c in (sam.FIND_CARD, sam.SELECT_CARD, sam.READ_TEXT_PHOTO))
    responses = (len(sam.build_response(0x9F, bytes(4))) + len(sam.build_response(0x90, bytes(8)))
                 + len(sam.build_response(0x90, bytes(4 + sam.TEXT_SIZE + sam.PHOTO_SIZE))))
    return (requests + responses) * 10 / baud


def _person_key_seconds(district_key: bytes, runs: int = 5) -> float:
    """Median wall time of what a card read derives: the person key and the earlier keys it may link."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        person_key(district_key, SAMPLE_CARDS["resident"].expected.number)
        earlier_person_keys(district_key, SAMPLE_CARDS["resident"].expected.number)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _measure_until_greeting(h, trigger, timeout: float = 10.0) -> float:
    """Run ``trigger()`` and return seconds until the greeting was drawn."""
    marker: dict[str, int] = {}

    def hook(_item):
        marker["flips"] = len(h.flips)   # frames drawn before the screen switched

    h.screen("identify").greeted_hook = hook
    t0 = trigger()
    if not h.pump_until(lambda: "flips" in marker and len(h.flips) > marker["flips"], timeout):
        raise RuntimeError("no greeting within the timeout")
    h.screen("identify").greeted_hook = None
    return h.flips[marker["flips"]] - t0


def _start_at_identify(h, purpose: str = "records") -> None:
    h.shell.home()
    h.screen("home").choose(purpose)
    h.frames(2)


def run(args: argparse.Namespace) -> int:
    """Measure and print one JSON object."""
    result: dict = {"runs": args.runs, "baud": args.baud, "poll_s": args.poll}
    with tempfile.TemporaryDirectory(prefix="yizhan-bench-") as tmp:
        settings = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(Path(tmp) / "data")})
        sim = IdCardSimulator(link=str(Path(tmp) / "idcard"), baudrate=args.baud).start()
        devices = {"idcard": DeviceSettings(driver="sam", port=sim.path, baudrate=args.baud,
                                            options={"poll_interval": args.poll})}
        settings = dataclasses.replace(settings, devices=devices)
        ctx = build_context(settings)
        h = HeadlessShell(ctx)
        service = ctx.services["identity"]
        sources = IdentitySources(settings, service, ctx.status, h.post, on_event=h.shell.on_identity_event)
        sources.start()
        try:
            person = service.from_document(SAMPLE_CARDS["resident"].expected).person
            service.record_consent(person, True)       # measure identification, not the consent screen
            h.pump_until(lambda: ctx.status.get("idcard").get("state") == "connected", 10)
            samples = []
            for _ in range(args.runs):
                _start_at_identify(h)

                def place():
                    t = time.monotonic()
                    sim.present("resident")
                    return t
                samples.append(_measure_until_greeting(h, place))
                sim.remove()
                h.pump_until(lambda: ctx.status.get("idcard").get("card") is False, 5)
            wire = wire_seconds(args.baud)
            median = statistics.median(samples)
            derive = _person_key_seconds(settings.secrets.district_key)
            target = round(30 + derive * 1000, 1)      # the person key's cost is chosen (docs/kiosk-disk.md)
            result.update({
                "idcard_placed_to_greeting_ms": round(median * 1000, 1),
                "idcard_p90_ms": round(sorted(samples)[int(len(samples) * 0.9) - 1] * 1000, 1),
                "wire_ms": round(wire * 1000, 1),
                "kiosk_overhead_ms": round((median - wire) * 1000, 1),
                "person_keys_ms": round(derive * 1000, 1),
                "target_overhead_ms": target,
            })
            result["target_met"] = result["kiosk_overhead_ms"] <= target
            if not args.no_qr:
                result.update(_bench_qr(h, settings, service, args.runs))
            if not args.no_pcsc:
                result.update(_bench_pcsc(h, settings, service, tmp))
        finally:
            sources.stop()
            sim.stop()
            h.close()
            ctx.close()
    print(json.dumps(result))
    return 0


def _bench_qr(h, settings, service, runs: int) -> dict:
    """QR: a frame with a valid token in hand (decoded on the worker) → greeting drawn."""
    key = settings.secrets.district_key
    person_key = "ab" * 32
    image = make_token_image(issue_token(key, "resident", person_key, timedelta(days=1), settings.station.id))
    samples = []
    for _ in range(min(runs, 10)):
        _start_at_identify(h)
        got = threading.Event()
        box: dict = {}

        def on_result(decoded, box=box, got=got):
            if got.is_set():
                return
            got.set()
            outcome = service.from_token(decoded.text)
            box["captured"] = decoded.captured_at
            h.post(lambda: h.shell.on_identity_event(IdentityEvent(outcome, "qr", decoded.captured_at)))

        folder = Path(tempfile.mkdtemp(prefix="yizhan-qr-"))
        cv2.imwrite(str(folder / "0001.png"), image)
        scanner = QrScanner(str(folder), on_result=on_result, fps=None)
        try:
            samples.append(_measure_until_greeting(h, lambda: (scanner.start(), time.monotonic())[1]))
            samples[-1] -= box["captured"] - (h.flips[-1] - samples[-1])   # from frame in hand
        finally:
            scanner.stop()
    return {"qr_frame_to_greeting_ms": round(statistics.median(samples) * 1000, 1)} if samples else {}


def _bench_pcsc(h, settings, service, tmp) -> dict:
    """PC/SC: virtual card connected to vpcd → greeting drawn (pcscd's own polling dominates)."""
    try:
        if not any(r.startswith("Virtual PCD") for r in list_readers()):
            return {"pcsc": "skipped: no Virtual PCD reader (start pcscd with vsmartcard-vpcd)"}
    except Exception as exc:
        return {"pcsc": f"skipped: {type(exc).__name__}: {exc}"}
    roster = Path(settings.data_dir) / "roster.json"
    roster.write_text(json.dumps({"volunteers": [{"id": "B1", "name": "测试", "card_uid": "04A1B2C3"}]}),
                      encoding="utf-8")

    def on_event(event):
        if isinstance(event, CardTapped):
            outcome = service.from_card_uid(event.uid)
            h.post(lambda: h.shell.on_identity_event(IdentityEvent(outcome, "pcsc", event.detected_at)))

    reader = PcscReader(reader_prefix="Virtual PCD 00 00", on_event=on_event)
    reader.start()
    samples = []
    try:
        for _ in range(5):
            _start_at_identify(h, "volunteer")
            card = VirtualCard("04A1B2C3")
            samples.append(_measure_until_greeting(h, lambda: (card.insert(), time.monotonic())[1]))
            card.remove()
            time.sleep(1.0)          # let pcscd see the card leave
    finally:
        reader.stop()
    return {"pcsc_tap_to_greeting_ms": round(statistics.median(samples) * 1000, 1)}
