"""The device manager: opens the configured BP monitor and glucometer, watches them, runs measurements.

No Kivy here. Each configured, enabled device (``settings.devices["bp"]``, ``["glucose"]``) gets a
supervisor thread that opens it with its registered driver and keeps its state on the
:class:`~kiosk.context.StatusBoard` (``connected`` / ``disconnected`` / ``measuring`` / ``error``,
with ``driver``, ``model`` and ``detail``). While idle the supervisor checks the open port without
reading from it (a monitor may push a reading at any time): the file descriptor must not report a
hang-up, and a port given as a path (``/dev/serial/by-id/…``) must still name the device that is
open. A pulled USB adapter shows both; the supervisor closes the port and retries opening every
``retry_s`` (0.5 s), so a device plugged back is ``connected`` again well within 2 s.

:meth:`DeviceManager.measure` runs ``device.measure()`` on a worker thread, never the caller's, and
hands progress, the typed reading or the typed :class:`~drivers.errors.DriverError` to the UI
through ``post(fn)`` (the app passes a Kivy-clock poster). One measurement per device at a time.
"""
from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drivers import UnknownDriver, load_driver
from drivers.base import MeasurementDevice
from drivers.errors import ConnectionFailed, DriverError
from drivers.readings import BloodPressureReading, GlucoseReading, Progress
from kiosk.context import StatusBoard
from kiosk.i18n import N_
from kiosk.settings import DeviceSettings, Settings

log = logging.getLogger(__name__)

#: The measurement devices the manager runs, by settings key (= driver kind).
KINDS = ("bp", "glucose")

Poster = Callable[[Callable[[], None]], None]


class DeviceBusy(DriverError):
    """A measurement is already running on this device."""

    user_key = "device_busy"
    user_message = N_("The device is still busy with a measurement. Please wait a moment.")


class DeviceNotConfigured(DriverError):
    """No enabled device of this kind is configured (or its driver name is unknown)."""

    user_key = "device_not_configured"
    user_message = N_("This device is not set up at this station. Please ask staff for help.")


class MeasureJob:
    """A measurement running on a worker thread.

    After :meth:`cancel` no callback of this job is delivered any more (a screen that left does not
    hear from it); the driver stops the device if it can.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._cancel = threading.Event()
        self._done = threading.Event()

    def cancel(self) -> None:
        """Stop the measurement; safe from any thread, safe to call twice."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        """True once the worker has finished (result, error or cancel)."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker finished; False on timeout. Never call it on the UI thread."""
        return self._done.wait(timeout)


@dataclass
class _Slot:
    """One configured device and everything the manager keeps about it."""

    name: str
    config: DeviceSettings
    driver_cls: type[MeasurementDevice] | None = None
    device: MeasurementDevice | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    job: MeasureJob | None = None
    worker: threading.Thread | None = None
    supervisor: threading.Thread | None = None
    state: str = "disconnected"
    connected_at: float | None = None


class DeviceManager:
    """Opens, watches and measures with the station's BP monitor and glucometer.

    Args:
        settings: the station settings (``devices["bp"]`` / ``devices["glucose"]`` are used).
        status: where each device's state is published for the header and the admin screen.
        post: hands a callable to the UI thread (tests pass ``lambda fn: fn()`` or a queue).
        retry_s: pause between attempts to open a disconnected device.
        watch_s: pause between checks of an open, idle device.
    """

    def __init__(self, settings: Settings, status: StatusBoard, post: Poster, *,
                 retry_s: float = 0.5, watch_s: float = 0.2) -> None:
        self.status = status
        self.post = post
        self.retry_s = retry_s
        self.watch_s = watch_s
        self._stop = threading.Event()
        self._jobs_lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}
        for name in KINDS:
            cfg = settings.devices.get(name)
            if cfg is not None and cfg.enabled and cfg.driver:
                self._slots[name] = _Slot(name, cfg)

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start one supervisor thread per configured device (returns at once)."""
        self._stop.clear()
        for slot in self._slots.values():
            try:
                slot.driver_cls = load_driver(slot.name, slot.config.driver)
            except UnknownDriver as exc:
                self._set(slot, "error", detail=str(exc))
                continue
            self._set(slot, "disconnected", detail="starting")
            slot.supervisor = threading.Thread(target=self._supervise, args=(slot,),
                                               name=f"devices-{slot.name}", daemon=True)
            slot.supervisor.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Cancel running measurements, stop the threads and close the ports (within ``timeout``)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for slot in self._slots.values():
            if slot.job is not None:
                slot.job.cancel()
        for slot in self._slots.values():
            for thread in (slot.worker, slot.supervisor):
                if thread is not None and thread is not threading.current_thread():
                    thread.join(max(0.0, deadline - time.monotonic()))
            device, slot.device = slot.device, None
            if device is not None:
                device.close()

    def __enter__(self) -> DeviceManager:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- queries ------------------------------------------------------------------------------------
    def states(self) -> dict[str, dict[str, Any]]:
        """A snapshot of every configured device's state (as on the status board)."""
        return {name: self.status.get(name) for name in self._slots}

    def available(self, kind: str) -> bool:
        """True when ``kind`` is configured and its device is connected (or busy measuring)."""
        slot = self._slots.get(kind)
        return slot is not None and slot.state in ("connected", "measuring")

    # -- measuring ----------------------------------------------------------------------------------
    def measure(self, kind: str, *, on_progress: Callable[[Progress], None],
                on_result: Callable[[BloodPressureReading | GlucoseReading], None],
                on_error: Callable[[DriverError], None], since: datetime | None = None) -> MeasureJob:
        """Start one measurement on a worker thread; callbacks arrive through ``post``.

        Args:
            kind: ``"bp"`` or ``"glucose"``.
            on_progress: live updates (cuff pressure, "reading_meter" …).
            on_result: the typed reading.
            on_error: a typed DriverError; its ``user_key`` says what to tell the person. A device
                that is not connected yields ConnectionFailed (after one attempt to open it).
            since: glucometers only count a reading taken after this time.

        Returns:
            The job (``cancel()`` it when the person leaves).

        Raises:
            DeviceNotConfigured: no enabled device of that kind (or an unknown driver name).
            DeviceBusy: a measurement is already running on that device.
        """
        slot = self._slots.get(kind)
        if slot is None or slot.driver_cls is None:
            raise DeviceNotConfigured(f"no usable {kind!r} device is configured")
        if self._stop.is_set():
            raise DeviceNotConfigured("the device manager is stopped")
        with self._jobs_lock:
            if slot.job is not None and not slot.job.done:
                raise DeviceBusy(f"a {kind} measurement is already running")
            job = MeasureJob(kind)
            slot.job = job
            slot.worker = threading.Thread(target=self._work, args=(slot, job, on_progress, on_result, on_error,
                                                                    since), name=f"measure-{kind}", daemon=True)
            slot.worker.start()
        return job

    def _deliver(self, job: MeasureJob, fn: Callable, arg: Any) -> None:
        def call() -> None:
            if not job.cancelled:
                fn(arg)
        if not job.cancelled:
            self.post(call)

    def _work(self, slot: _Slot, job: MeasureJob, on_progress, on_result, on_error, since) -> None:
        try:
            with slot.lock:
                try:
                    device = slot.device or self._open(slot)
                    self._set(slot, "measuring")
                    reading = device.measure(progress=lambda p: self._deliver(job, on_progress, p),
                                             cancel=job._cancel, since=since)
                except ConnectionFailed as exc:
                    self._lost(slot, exc)
                    self._deliver(job, on_error, exc)
                except DriverError as exc:
                    self._set_idle(slot)
                    self._deliver(job, on_error, exc)
                except Exception as exc:   # a driver bug must not kill the kiosk: report it typed
                    log.exception("%s driver failed unexpectedly", slot.name)
                    self._set_idle(slot)
                    self._deliver(job, on_error, DriverError(f"{slot.name} driver failed: {exc!r}"))
                else:
                    self._set_idle(slot)
                    self._deliver(job, on_result, reading)
        finally:
            job._done.set()

    # -- supervision --------------------------------------------------------------------------------
    def _supervise(self, slot: _Slot) -> None:
        while not self._stop.is_set():
            pause = self.retry_s
            if slot.lock.acquire(blocking=False):       # skipped while a measurement runs
                try:
                    if slot.device is None:
                        try:
                            self._open(slot)
                            pause = self.watch_s
                        except ConnectionFailed as exc:
                            self._lost(slot, exc)
                        except DriverError as exc:
                            self._set(slot, "error", detail=str(exc))
                    elif not self._alive(slot):
                        self._lost(slot, ConnectionFailed(f"{slot.config.port} went away"))
                        continue                          # try to reopen at once
                    else:
                        pause = self.watch_s
                finally:
                    slot.lock.release()
            else:
                pause = self.watch_s
            self._stop.wait(pause)

    def _open(self, slot: _Slot) -> MeasurementDevice:
        """Open the device (caller holds ``slot.lock``) and mark it connected.

        Raises:
            ConnectionFailed / DriverError: from the driver's open and handshake.
        """
        cfg = slot.config
        device = slot.driver_cls(cfg.port, baudrate=cfg.baudrate or None, options=cfg.options)
        device.open()
        slot.device = device
        slot.connected_at = time.monotonic()
        if slot.state != "connected":
            log.info("%s connected: %s on %s", slot.name, device.MODEL, cfg.port)
        self._set(slot, "connected")
        return device

    def _lost(self, slot: _Slot, exc: DriverError) -> None:
        device, slot.device = slot.device, None
        if device is not None:
            device.close()
        if slot.state != "disconnected":
            log.info("%s disconnected: %s", slot.name, exc)
        self._set(slot, "disconnected", detail=str(exc))

    def _set_idle(self, slot: _Slot) -> None:
        self._set(slot, "connected" if slot.device is not None else "disconnected")

    @staticmethod
    def _alive(slot: _Slot) -> bool:
        """Check an open port without reading from it: no hang-up, and its path still names it."""
        port = getattr(slot.device, "_port", None)
        if port is None or not port.is_open:
            return False
        try:
            fd = port.fileno()
        except (AttributeError, OSError, ValueError, NotImplementedError):
            return True          # socket://, loop://: failures show up when measuring
        poller = select.poll()
        poller.register(fd, select.POLLHUP | select.POLLERR | select.POLLNVAL)
        if any(ev & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _fd, ev in poller.poll(0)):
            return False
        path = slot.config.port
        if "://" not in path:
            try:
                return os.stat(path).st_rdev == os.fstat(fd).st_rdev
            except OSError:
                return False
        return True

    def _set(self, slot: _Slot, state: str, detail: str = "") -> None:
        slot.state = state
        cls = slot.driver_cls
        self.status.set(slot.name, state=state, driver=slot.config.driver,
                        model=getattr(cls, "MODEL", "") if cls else "", port=slot.config.port,
                        detail=detail)
