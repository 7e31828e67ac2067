"""The Kivy application: the kiosk's wiring of core, devices, sync and screens.

It configures Kivy from the settings before anything imports it (so Kivy itself, the shell and the
screens are loaded only then: Kivy by function-level imports, the shell and screens by name from the
registry), registers the Simplified Chinese font as the
default for every widget, builds the shell from the screen registry and runs either the kiosk or
the screen tour.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from app.doctor import kiosk_device_states, run_checks, summary
from drivers.printer_escpos import PRINTERS
from kiosk.context import KioskContext
from kiosk.devices import DeviceManager
from kiosk.health_session import HealthCheckSession
from kiosk.identify_sources import IdentitySources
from kiosk.sdnotify import Watchdog
from kiosk.storage import StorageWatch
from screens import SCREENS, load_class, tour_plan
from sync.publisher import Publisher

log = logging.getLogger(__name__)

TOUR_SIZE = (1280, 800)
#: The UI thread beats the systemd watchdog this often (WatchdogSec in the unit is 30 s).
WATCHDOG_TICK_S = 2.0
#: How often the doctor's summary is refreshed for the status message.
HEALTH_EVERY_S = 300
#: The shell's class. Like every screen it imports Kivy, which must be configured from the settings
#: (KIVY_HOME, window size) before its first import, so it is loaded by name from the registry.
SHELL = "screens.shell:Shell"
#: Loaded by name for the same reason: voice playback and the seeing modes live beside the screens.
VOICE = "screens.voice:attach_voice"
LOOK = "screens.look:look"


class FontMissing(RuntimeError):
    """The Chinese font is not installed."""


def font_path() -> Path:
    """The Noto Sans SC font file (Simplified Chinese glyph forms), from the pip package.

    Raises:
        FontMissing: with the command that installs it.
    """
    try:
        import pylopdf_fonts_zh_cn
        path = Path(pylopdf_fonts_zh_cn.sans_path())
    except ImportError:
        path = Path("/nonexistent")
    if not path.is_file():
        raise FontMissing("the Chinese font (Noto Sans SC) is missing: run `make run` again, or "
                          "`.venv/bin/pip install pylopdf-fonts-zh-cn==0.1.1`")
    return path


def configure_kivy(ctx: KioskContext, *, windowed: bool, size: tuple[int, int] | None = None) -> None:
    """Set Kivy's environment and Config before the window is created."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
    os.environ.setdefault("KIVY_HOME", str(ctx.settings.data_dir / "kivy"))
    from kivy.config import Config

    ui = ctx.settings.ui
    width, height = size or (ui.width, ui.height)
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("graphics", "fullscreen", "0" if windowed or not ui.fullscreen else "auto")
    Config.set("graphics", "resizable", "0")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("input", "mouse", "mouse,multitouch_on_demand")


def register_font() -> None:
    """Make Noto Sans SC the default font of every Label (Kivy has no font fallback)."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    path = str(font_path())
    LabelBase.register(DEFAULT_FONT, path, path, path, path)


def build_app(ctx: KioskContext, *, tour_dir: Path | None = None, first_frame_marker: bool = False):
    """Create (not run) the kiosk App."""
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.window import Window

    class YizhanKiosk(App):
        title = "Yizhan 驿站"
        use_kivy_settings = False

        def open_settings(self, *_args) -> bool:
            """Kivy's settings panel (F1, Menu) never opens on a kiosk: no key may open anything."""
            return False

        def build(self):
            register_font()
            # The running kiosk opens its audio and renders missing prompts after the first frame.
            load_class(VOICE)(ctx, warm=False, defer_audio=tour_dir is None)
            self.shell = load_class(SHELL)(ctx, SCREENS, on_exit=self.stop)
            self.shell.go("home")
            Window.bind(on_request_close=self._on_request_close, on_keyboard=self._on_keyboard)
            return self.shell

        def on_start(self):
            if tour_dir is not None:
                Clock.schedule_once(lambda _dt: self._tour_step(tour_plan(), Path(tour_dir)), 0.3)
                return
            self.shell.start_clock()
            watchdog = ctx.services.setdefault("watchdog", Watchdog())
            Clock.schedule_interval(lambda _dt: watchdog.tick("ui"), WATCHDOG_TICK_S)   # a hung UI thread stops it
            Window.bind(on_flip=self._ready)
            if first_frame_marker:
                Window.bind(on_flip=self._first_flip)
            # Audio, the voice's prompt rendering, devices, identity sources and sync start once the
            # first frame is drawn: the home screen needs none of them, and the kiosk shows up sooner.
            # Other screens are built on their first visit (10-300 ms each), not ahead: built all at
            # start they held 35 MB of a station's memory whether anyone visited them or not.
            Window.bind(on_flip=self._after_first_frame)

        def _after_first_frame(self, *_args):
            Window.unbind(on_flip=self._after_first_frame)
            voice = ctx.services["voice"]
            Clock.schedule_once(lambda _dt: voice.player.open_audio(), 0)
            Clock.schedule_once(lambda _dt: voice.start(warm=True), 0)   # the worker runs: this adds the warming
            Clock.schedule_once(lambda _dt: self._start_services(), 0)

        def _start_services(self):
            def post(fn):
                Clock.schedule_once(lambda _dt: fn(), 0)

            sources = IdentitySources(ctx.settings, ctx.services["identity"], ctx.status, post,
                                      on_event=self.shell.on_identity_event,
                                      on_frame=lambda frame: post(lambda: self._preview(frame)))
            ctx.services["identity_sources"] = sources
            sources.start()
            demo = ctx.services.get("demo")
            if demo is not None:
                demo.deliver, demo.identity = self.shell.on_identity_event, ctx.services["identity"]
                demo.reader_empty = lambda: ctx.status.get("idcard").get("card") is False
            start_device_services(ctx, post)
            ctx.services["storage"] = StorageWatch(ctx.settings.data_dir, ctx.status).start()
            start_sync(ctx)
            Clock.schedule_interval(lambda _dt: auto_close_shifts(ctx), AUTO_CLOSE_EVERY_S)
            auto_close_shifts(ctx)
            Clock.schedule_interval(lambda _dt: report_health(ctx), HEALTH_EVERY_S)
            Clock.schedule_once(lambda _dt: report_health(ctx), 10)

        def _preview(self, frame):
            """A camera frame for the QR panel, shown while the identify screen is (that screen is
            built on its first visit, not for frames nobody sees)."""
            if self.shell.manager.current == "identify":
                self.shell.screen("identify").show_preview(frame)

        def on_stop(self):
            self.shell.close()

        def _ready(self, *_args):
            Window.unbind(on_flip=self._ready)     # the first frame is drawn: systemd may call us started
            ctx.services["watchdog"].ready("home screen shown")

        def _first_flip(self, *_args):
            Window.unbind(on_flip=self._first_flip)
            print(f"FIRST_FRAME {time.time():.6f}", flush=True)

        def _on_request_close(self, *_args, **_kwargs):
            # Kiosk mode: the window manager cannot close the kiosk; staff quit from the admin screen.
            return ctx.settings.ui.fullscreen and not ctx.settings.demo

        def _on_keyboard(self, _window, key, *_args):
            return True        # no key quits, goes back or opens anything (Esc, F1, Menu …)

        # screen tour --------------------------------------------------------------------
        def _tour_step(self, plan, out: Path):
            if not plan:
                (out / "spoken.json").write_text(json.dumps(self._spoken, ensure_ascii=False, indent=1),
                                                 encoding="utf-8")
                self.stop()
                return
            name, state, lang, filename, mode = plan.pop(0)
            self.shell.end_session()
            if self.shell.ctx.session.lang != lang:
                self.shell.toggle_language()
            look = load_class(LOOK)
            look.large, look.contrast = mode == "large", mode == "contrast"
            screen = self.shell.screen(name)
            self.shell.manager.current = name
            if state == "idle_warning":
                self.shell.ctx.session.begin("health")
                self.shell.idle_seconds = 12
                self.shell.idle_visible = True
            else:
                screen.load_demo(state)
                self.shell.idle.touch()        # a slow machine must not photograph the idle countdown
            self.shell.tick()
            if state == "idle_warning":
                self.shell.idle_visible = True
            spoken = ctx.services["voice"].history[-1] if state == "idle_warning" else self.shell.speak_screen()
            self._spoken = getattr(self, "_spoken", {})
            self._spoken[filename] = {"screen": name, "state": state, "lang": lang, "look": mode,
                                      "prompt": spoken.key, "text": spoken.text}
            target = out / filename
            Clock.schedule_once(lambda _dt: self._shoot(target, plan, out), 0.35)

        def _shoot(self, target: Path, plan, out: Path, redraws: int = 2):
            # The screenshot reads the back buffer, which after a swap holds an older frame: draw the
            # settled screen twice so both buffers hold it.
            if redraws or self.shell.manager.transition.is_active:
                Window.canvas.ask_update()
                Clock.schedule_once(lambda _dt: self._shoot(target, plan, out, max(0, redraws - 1)), 0)
                return
            written = Window.screenshot(name=str(target.with_suffix("")) + "_.png")
            os.replace(written, target)
            log.info("tour: wrote %s", target.name)
            Clock.schedule_once(lambda _dt: self._tour_step(plan, out), 0.05)

    return YizhanKiosk()


#: How often open volunteer shifts are checked against the day's cut-off.
AUTO_CLOSE_EVERY_S = 300


def auto_close_shifts(ctx: KioskContext) -> None:
    """Close volunteer shifts still open past the cut-off (flagged for review), on a worker thread."""
    timebank = ctx.services.get("timebank")
    if timebank is None:
        return

    def work() -> None:
        try:
            closed = timebank.auto_close_open_shifts()
        except Exception:      # a failed sweep is retried at the next interval; never crash the UI
            log.exception("auto-closing volunteer shifts failed")
            return
        if closed:
            log.info("auto-closed %d volunteer shift(s) at the cut-off; they need review", len(closed))
    threading.Thread(target=work, name="auto-close-shifts", daemon=True).start()


def report_health(ctx: KioskContext) -> None:
    """Run the doctor's checks off the UI thread and put the summary into the status message."""
    publisher = ctx.services.get("publisher")
    if publisher is None:
        return

    def work() -> None:
        states = kiosk_device_states(ctx.settings, ctx.status.snapshot())
        checks = run_checks(ctx.settings, device_states=states, broker_connected=publisher.status().connected)
        publisher.set_health(summary(checks))

    threading.Thread(target=work, name="doctor", daemon=True).start()


def start_sync(ctx: KioskContext) -> None:
    """Start the outbox publisher in-process when sync is enabled (records wake it on append)."""
    if not ctx.settings.sync.enabled:
        return
    publisher = Publisher(ctx.settings, ctx.journal.path)
    watchdog = ctx.services.get("watchdog")
    if watchdog is not None:
        publisher.heartbeat = lambda: watchdog.beat("publisher")    # a stuck publisher stops the pings
    ctx.services["publisher"] = publisher
    ctx.journal.listeners.append(lambda _record: publisher.wake())
    publisher.start()


def start_device_services(ctx: KioskContext, post) -> None:
    """Start the measurement devices' manager and open the slip printer when one is configured."""
    day = HealthCheckSession.current(ctx.journal, ctx.settings.station.id)
    if day is not None:                    # a health-check day survives a restart
        ctx.services["health_day"] = day
    devices = DeviceManager(ctx.settings, ctx.status, post)
    ctx.services["devices"] = devices
    devices.start()
    printer_cfg = ctx.settings.devices.get("printer")
    if printer_cfg and printer_cfg.enabled:
        try:
            ctx.services["printer"] = PRINTERS[printer_cfg.driver](printer_cfg.port, baudrate=printer_cfg.baudrate or None,
                                                                   options=printer_cfg.options)
        except KeyError:
            log.error("unknown printer driver %r; known: %s", printer_cfg.driver, ", ".join(PRINTERS))


class HeadlessShell:
    """The kiosk shell on an offscreen window, driven frame by frame without ``App.run`` — for the
    benchmarks and UI tests. ``post`` hands work to the Kivy clock like the running app does."""

    def __init__(self, ctx: KioskContext, size: tuple[int, int] = TOUR_SIZE) -> None:
        os.environ.pop("DISPLAY", None)
        configure_kivy(ctx, windowed=True, size=size)
        from kivy.base import EventLoop
        from kivy.core.window import Window

        EventLoop.ensure_window()
        self.window = Window
        Window.size = size
        register_font()
        self.ctx = ctx
        self.exited = False
        load_class(VOICE)(ctx, warm=False)
        self.shell = load_class(SHELL)(ctx, SCREENS, on_exit=self._exit)
        for child in list(Window.children):
            Window.remove_widget(child)
        Window.add_widget(self.shell)
        for name in SCREENS:               # all built up front, as the running app has them soon after start
            self.shell.screen(name)
        self.shell.go("home")
        self.flips: list[float] = []
        Window.bind(on_flip=self._on_flip)
        self.frames(3)

    def _exit(self) -> None:
        self.exited = True

    def _on_flip(self, *_args) -> None:
        self.flips.append(time.monotonic())

    @staticmethod
    def post(fn) -> None:
        """Run ``fn`` on the UI thread at the next frame."""
        from kivy.clock import Clock
        Clock.schedule_once(lambda _dt: fn(), 0)

    def frames(self, n: int = 2) -> None:
        """Run ``n`` frames of the event loop (input, clock, layout, drawing)."""
        from kivy.base import EventLoop
        for _ in range(n):
            EventLoop.idle()

    def pump_until(self, predicate, timeout: float = 10.0) -> bool:
        """Run frames until ``predicate()`` is true; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.frames(1)
            if predicate():
                return True
            time.sleep(0.001)
        return False

    def screen(self, name: str):
        """The registered screen ``name``."""
        return self.shell.screen(name)

    def close(self) -> None:
        """Detach the shell from the window."""
        self.window.unbind(on_flip=self._on_flip)
        self.shell.close()
        self.window.remove_widget(self.shell)


def install_stop_signals(app) -> None:
    """SIGTERM and SIGINT stop the kiosk the way the admin screen's quit does: the App stops on the
    Kivy clock, then the caller closes the journal and releases the devices (``KioskContext.close``).

    Without this, SDL turns SIGTERM into a window-close request, which a fullscreen production kiosk
    refuses, so ``systemctl stop`` always ended in SIGKILL.
    """
    from kivy.clock import Clock

    def handler(signum, _frame) -> None:
        log.info("stopping on %s", signal.Signals(signum).name)
        Clock.schedule_once(lambda _dt: app.stop(), 0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


def run_app(ctx: KioskContext, *, tour_dir: Path | None = None, windowed: bool = False,
            first_frame_marker: bool = False) -> int:
    """Run the kiosk (or the tour) until it stops; returns the exit code."""
    if tour_dir is not None:
        os.environ.pop("DISPLAY", None)   # SDL renders offscreen through Mesa
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")   # the tour records what is said; it plays nothing
        Path(tour_dir).mkdir(parents=True, exist_ok=True)
    configure_kivy(ctx, windowed=windowed or tour_dir is not None,
                   size=TOUR_SIZE if tour_dir is not None else None)
    font_path()
    app = build_app(ctx, tour_dir=Path(tour_dir) if tour_dir else None, first_frame_marker=first_frame_marker)
    install_stop_signals(app)
    app.run()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `yizhan kiosk` instead")
