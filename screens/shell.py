"""The shell around every screen: header, screen manager, idle countdown, hidden admin corner."""
from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.lang import Builder
from kivy.metrics import dp, sp
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from kiosk.i18n import N_, Translator
from kiosk.idle import IdleTimer
from kiosk.storage import STORAGE_FULL
from screens import load_class, theme, widgets  # noqa: F401  (widgets: loads the shared widget rules)
from screens.base import Presence
from screens.i18n import tr
from screens.voice import VoiceControl
from sync.publisher import LINE_OFFLINE, status_text

#: the widest the header's sync state grows before it wraps: every status fits two lines
SYNC_MAX_DP = 420

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


class AdminCorner(FloatLayout):
    """An invisible area over the header's clock: holding it opens the admin PIN pad."""

    hold_s = NumericProperty(3.0)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._event = None
        self.register_event_type("on_long_press")

    def on_touch_down(self, touch) -> bool:
        if self.collide_point(*touch.pos):
            self._event = Clock.schedule_once(lambda _dt: self.dispatch("on_long_press"), self.hold_s)
            touch.grab(self)
            return True
        return super().on_touch_down(touch)

    def on_touch_up(self, touch) -> bool:
        if touch.grab_current is self:
            touch.ungrab(self)
            if self._event:
                self._event.cancel()
                self._event = None
            return True
        return super().on_touch_up(touch)

    def on_long_press(self) -> None:
        """Dispatched after ``hold_s`` seconds of holding."""


class InstantTransition(NoTransition):
    """Switches screens within the same frame: the old screen leaves the tree before anything is
    drawn (Kivy's NoTransition still draws one frame with both screens, one through the other)."""

    def start(self, manager) -> None:
        super().start(manager)
        self.stop()


class IdleOverlay(FloatLayout):
    """The countdown shown before an idle kiosk resets; any touch dismisses it."""

    seconds = NumericProperty(0)
    bg_color = ColorProperty(theme.OVERLAY)


class Shell(FloatLayout):
    """Root widget: owns navigation, the header's live fields, idle handling and session wipes."""

    ctx = ObjectProperty(None)
    station_name = StringProperty("")
    clock_text = StringProperty("")
    date_text = StringProperty("")
    sync_text = StringProperty("")
    sync_online = BooleanProperty(False)
    sync_color = ColorProperty(theme.OFFLINE)
    sync_icon = StringProperty("offline")
    sync_width = NumericProperty(0)
    lang_button_text = StringProperty("English")
    idle_visible = BooleanProperty(False)
    idle_seconds = NumericProperty(0)
    voicectl = ObjectProperty(None, allownone=True)

    def __init__(self, ctx, screens: dict[str, str], on_exit=None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx
        self.voicectl = VoiceControl(self, ctx.services.get("voice"))
        widgets.TAP_LISTENERS[:] = [lambda: self.voicectl.tone("tap")]
        self._on_exit = on_exit
        self.station_name = ctx.settings.station.name
        ui = ctx.settings.ui
        self.idle = IdleTimer(ui.idle_warning_s, ui.idle_reset_s)
        self.manager: ScreenManager = self.ids.manager
        self.manager.transition = InstantTransition()
        self._registry = dict(screens)
        self.screen("home")
        self.ids.corner.hold_s = ui.admin_hold_s
        self.ids.corner.bind(on_long_press=lambda *_: self.go("admin_pin"))
        self.idle_overlay = IdleOverlay()
        self.bind(idle_seconds=self.idle_overlay.setter("seconds"))
        tr.lang = ctx.session.lang
        tr.bind(lang=self._on_lang)
        self._on_lang()
        self.tick()

    def on_idle_visible(self, _instance, visible: bool) -> None:
        """Show the countdown overlay above everything, or take it away entirely."""
        if visible and self.idle_overlay.parent is None:
            self.add_widget(self.idle_overlay)
            self.voicectl.speak("idle_warning")
        elif not visible and self.idle_overlay.parent is self:
            self.remove_widget(self.idle_overlay)

    def close(self) -> None:
        """Detach from the shared language object and stop ticking (the app is stopping)."""
        tr.unbind(lang=self._on_lang)
        widgets.TAP_LISTENERS.clear()
        Clock.unschedule(self.tick)

    # navigation -------------------------------------------------------------------
    def screen(self, name: str):
        """The registered screen ``name``, built on first use."""
        if not self.manager.has_screen(name):
            self.manager.add_widget(load_class(self._registry[name])(name=name, ctx=self.ctx, nav=self))
        return self.manager.get_screen(name)

    def go(self, name: str, **params) -> None:
        """Show screen ``name`` after handing it ``params``."""
        screen = self.screen(name)
        screen.enter(**params)
        self.voicectl.speak_screen(screen)      # first: the voice worker starts while the screen is drawn
        self.manager.current = name
        s = self.ctx.settings
        self.idle.configure(s.ui.idle_warning_s, s.idle_reset_for(name))
        self.idle.touch()

    @staticmethod
    def post(fn) -> None:
        """Run ``fn`` on the UI thread at the next frame (for workers' results)."""
        Clock.schedule_once(lambda _dt: fn(), 0)

    def has_screen(self, name: str) -> bool:
        """True if a screen of that name is registered."""
        return name in self._registry

    def on_identity_event(self, item) -> None:
        """An identity outcome or a read problem from a worker (already on the UI thread).

        Only the screen showing now may act on it (the identify prompt, a health-check day);
        a card tapped on any other screen is ignored.
        """
        screen = self.manager.current_screen
        handler = getattr(screen, "on_identity", None)
        if handler is not None:
            self.idle.touch()
            self.voicectl.tone("card")
            handler(item)

    def on_kv_post(self, _base_widget) -> None:
        self._presence = Presence()
        self.ids.manager.bind(current=self._show_home_button)

    def _show_home_button(self, _manager, current: str) -> None:
        self._presence.set_shown(self.ids.home_button, current != "home")

    def go_home(self) -> None:
        """The header's Home button: end the visit; during a health-check day its queue is home."""
        self.finish()

    def home(self) -> None:
        """End the visit: wipe the session and every screen, show home."""
        self.end_session()
        self.go("home")

    def finish(self) -> None:
        """The person is done: during a health-check day back to its queue, otherwise home."""
        day = self.ctx.services.get("health_day")
        if day is not None and day.is_open and self.has_screen("health_day"):
            self.end_session()
            self.go("health_day")
        else:
            self.home()

    def end_session(self) -> None:
        """Forget the person: session data, language, every screen's personal widgets."""
        self.ctx.session.wipe()
        self.voicectl.reset()
        for screen in self.manager.screens:
            screen.reset()
        tr.lang = self.ctx.session.lang
        self.idle_visible = False

    # language -----------------------------------------------------------------------
    def toggle_language(self) -> None:
        """Switch between Chinese and English for this visit."""
        self.ctx.session.set_language("en" if self.ctx.session.lang == "zh_CN" else "zh_CN")
        tr.lang = self.ctx.session.lang

    def _on_lang(self, *_args) -> None:
        self.lang_button_text = "English" if tr.lang == "zh_CN" else "中文"
        for screen in self.manager.screens:
            screen.retranslate(tr.lang)
        self.tick()

    # touches and the clock ----------------------------------------------------------------
    def speak_screen(self):
        """Say what the current screen says now (it changed state); returns the spoken record."""
        return self.voicectl.speak_screen(self.manager.current_screen)

    def speak(self, key: str) -> None:
        """Say the catalogued prompt ``key`` (a screen's new state: ``measure.inflating``)."""
        self.voicectl.speak(key)

    def on_touch_down(self, touch) -> bool:
        self.idle.touch()
        if self.idle_visible:
            self.idle_visible = False
            return True
        return super().on_touch_down(touch)

    def tick(self, *_args) -> None:
        """Once a second: header clock, sync state, idle countdown."""
        now = datetime.now()
        self.clock_text = now.strftime("%H:%M")
        self.date_text = tr._("{month}/{day} {weekday}", tr.lang, month=now.month, day=now.day,
                              weekday=tr._(WEEKDAYS[now.weekday()]))
        self._update_sync()
        self._check_idle()

    def on_sync_text(self, _instance, text: str) -> None:
        """The sync state as wide as its text, wrapped past ``SYNC_MAX_DP``: a long staff message
        ("storage full …") leaves the voice and language buttons on the screen."""
        width = CoreLabel(text=text, font_size=sp(theme.TEXT_SMALL_SP)).get_extents(text)[0] + 2
        self.sync_width = min(width, dp(SYNC_MAX_DP))

    def _update_sync(self) -> None:
        publisher = self.ctx.services.get("publisher")
        if publisher is not None:
            status = publisher.status()
            self.sync_online = status.connected
            self.sync_text = status_text(status, Translator(tr.lang))
        else:                               # no hub configured: records queue until there is one
            self.sync_online = False
            self.sync_text = tr._(LINE_OFFLINE, count=self._queued_cache())
        if self.ctx.status.get("storage").get("state") == "full":      # staff must act: it outranks sync
            self.sync_online = False
            self.sync_text = tr._(STORAGE_FULL)
        self.sync_color = theme.ONLINE if self.sync_online else theme.OFFLINE
        self.sync_icon = "online" if self.sync_online else "offline"

    def _queued_cache(self) -> int:
        # Without a publisher the queue only grows; counting it every 5 s is plenty.
        now = time.monotonic()
        if now - getattr(self, "_queued_at", -10.0) >= 5:
            self._queued_at = now
            self._queued = self.ctx.journal.pending_count()
        return self._queued

    def _check_idle(self) -> None:
        state = self.idle.state()
        if self.manager.current == "home" and not self.ctx.session.active:
            self.idle_visible = False
            self.idle.touch()
            return
        if state.phase == "expired":
            self.finish()
        elif state.phase == "warning":
            self.idle_seconds = int(state.remaining_s + 0.999)
            self.idle_visible = True
        else:
            self.idle_visible = False

    def start_clock(self) -> None:
        """Start the once-a-second tick (not during tests that drive ticks themselves)."""
        Clock.schedule_interval(self.tick, 0.5)

    def request_exit(self) -> None:
        """Quit the application (only reachable from the admin screen)."""
        if self._on_exit:
            self._on_exit()

    @staticmethod
    def now() -> float:
        """Monotonic time, for screens that show elapsed times."""
        return time.monotonic()


Builder.load_file(str(Path(__file__).with_name("shell.kv")))
