"""Worker threads that watch the ID card reader, the contactless reader and the camera, turn what
they see into identity outcomes (off the UI thread: parsing, HMAC and journaling happen here) and
hand the outcomes to the UI through ``post``. Never imports Kivy; never touches widgets."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers import idcard_sam, load_driver, pcsc, qr
from kiosk.context import StatusBoard
from kiosk.identity import IdentityService, Outcome
from kiosk.settings import Settings

log = logging.getLogger(__name__)

Post = Callable[[Callable[[], None]], None]


@dataclass(frozen=True)
class IdentityEvent:
    """What the UI receives: an outcome, where it came from, and when the source first saw it.

    ``seen_at`` is ``time.monotonic()`` when the card/QR was first detected (for the benchmark).
    """

    outcome: Outcome
    source: str
    seen_at: float
    #: The name printed on the ID card, only while a staff registration asks for it (see
    #: ``IdentitySources.capture_names``); never logged or journaled by the identity layer.
    full_name: str = field(default="", repr=False)


@dataclass(frozen=True)
class SourceProblem:
    """A read failed (card pulled, garbled): ``user_key`` says what to tell the person."""

    source: str
    user_key: str
    message: str


class IdentitySources:
    """Starts and stops the configured identification sources.

    Args:
        settings: ``devices.idcard`` (driver "sam"), ``devices.pcsc`` (options.reader_prefix) and
            ``devices.camera`` (port = camera index, video file or image folder) are used when enabled.
        service: turns raw reads into outcomes.
        status: where each source's state goes ("idcard", "pcsc", "camera").
        post: runs a callable on the UI thread.
        on_event: receives :class:`IdentityEvent` and :class:`SourceProblem` on the UI thread.
        on_frame: receives camera preview frames on the worker thread (the screen posts them itself).
    """

    def __init__(self, settings: Settings, service: IdentityService, status: StatusBoard, post: Post,
                 on_event: Callable[[Any], None], on_frame: Callable[[Any], None] | None = None) -> None:
        self.settings = settings
        self.service = service
        self.status = status
        self.post = post
        self.on_event = on_event
        self.on_frame = on_frame
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        #: Set by the staff registration screen while it waits for the volunteer's ID card.
        self.capture_names = False
        self._pcsc = None
        self._qr = None

    def _deliver(self, item) -> None:
        self.post(lambda: self.on_event(item))

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start every enabled source; a source that cannot start reports it on the status board."""
        devices = self.settings.devices
        idcard = devices.get("idcard")
        if idcard and idcard.enabled:
            t = threading.Thread(target=self._idcard_loop, args=(idcard,), name="idcard", daemon=True)
            t.start()
            self._threads.append(t)
        contactless = devices.get("pcsc")
        if contactless and contactless.enabled:
            self._start_pcsc(contactless)
        camera = devices.get("camera")
        if camera and camera.enabled:
            self._start_camera(camera)

    def stop(self) -> None:
        """Stop every source and join the threads."""
        self._stop.set()
        for source in (self._pcsc, self._qr):
            if source is not None:
                try:
                    source.stop()
                except Exception as exc:   # stopping must never raise into the app's shutdown
                    log.warning("stopping %s: %s", type(source).__name__, exc)
        for t in self._threads:
            t.join(3)

    # -- resident ID card (serial SAM reader) ------------------------------------------------------
    def _idcard_loop(self, cfg) -> None:
        reader_cls = load_driver("idcard", cfg.driver)
        reader = reader_cls(cfg.port, baudrate=cfg.baudrate or None, options=cfg.options)
        self.status.set("idcard", state="starting", driver=cfg.driver)
        try:
            for event in reader.events(self._stop):
                if isinstance(event, idcard_sam.CardPresented):
                    self.status.set("idcard", state="connected", driver=cfg.driver, card=True)
                    seen = event.timings.started
                    name = event.document.name if self.capture_names else ""
                    outcome = self.service.from_document(event.document)
                    del event   # the document (full number) goes no further than this frame
                    self._deliver(IdentityEvent(outcome, "idcard", seen, full_name=name))
                elif isinstance(event, idcard_sam.CardError):
                    self._deliver(SourceProblem("idcard", event.error.user_key, event.error.user_message))
                elif isinstance(event, idcard_sam.ReaderStatus):
                    self.status.set("idcard", state=event.state, driver=cfg.driver, detail=event.reason)
                elif isinstance(event, idcard_sam.CardRemoved):
                    self.status.set("idcard", state="connected", driver=cfg.driver, card=False)
        except Exception as exc:   # a bug here must not kill the kiosk; report it and stop the source
            log.exception("ID card source stopped")
            self.status.set("idcard", state="error", driver=cfg.driver, detail=str(exc)[:200])
        finally:
            reader.close()

    # -- contactless (PC/SC) -------------------------------------------------------------------------
    def _start_pcsc(self, cfg) -> None:
        def on_event(event) -> None:
            if isinstance(event, pcsc.CardTapped):
                outcome = self.service.from_card_uid(event.uid)
                self._deliver(IdentityEvent(outcome, "pcsc", event.detected_at))
            elif isinstance(event, pcsc.CardError):
                self._deliver(SourceProblem("pcsc", event.error.user_key, event.error.user_message))
            elif isinstance(event, pcsc.ReaderStatus):
                self.status.set("pcsc", state=event.state, detail=event.detail[:200])

        self._pcsc = pcsc.PcscReader(reader_prefix=str(cfg.options.get("reader_prefix", "")), on_event=on_event)
        self._pcsc.start()

    # -- camera QR ------------------------------------------------------------------------------------
    def _start_camera(self, cfg) -> None:
        def on_result(decoded) -> None:
            outcome = self.service.from_token(decoded.text)
            self._deliver(IdentityEvent(outcome, "qr", decoded.captured_at))

        def on_status(status: qr.ScannerStatus) -> None:
            self.status.set("camera", state=status.state, detail=status.detail[:200])

        spec: int | str = int(cfg.port) if cfg.port.isdigit() else cfg.port
        self._qr = qr.QrScanner(spec, on_result=on_result, on_frame=self.on_frame, on_status=on_status,
                             fps=float(cfg.options.get("fps", 10)), preview_every=int(cfg.options.get("preview_every", 2)),
                             loop=bool(cfg.options.get("loop", False)))
        self._qr.start()
