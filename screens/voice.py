"""The Kivy side of the voice: playback through SoundLoader, the header's speaker and volume
controls, the 大字 / 高对比 toggles, and the volume panel.

The :class:`kiosk.speech.voice.Voice` worker renders speech off the UI thread and hands a WAV path
to :class:`KivyPlayer`, which loads it on that worker and starts it on the UI thread at the next
frame. Buttons here only forward to the shell (``root.shell.*``).
"""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from pathlib import Path

from kivy.graphics import Triangle
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import BooleanProperty, ColorProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout

from kiosk.speech import Voice, build_voice
from kiosk.speech.sentences import fixed_lines
from kiosk.speech.prompts import prompt
from screens import theme
from screens.i18n import tr
from screens.icons import Icon
from screens.look import look
from screens.widgets import KButton, Pressable


#: Longest a sound asked for before the audio was opened waits for it (then it opens the audio itself).
AUDIO_WAIT_S = 5.0


@functools.cache
def _sound_loader():
    # Importing Kivy's audio opens the SDL mixer: 10-100 ms (100 where there is no sound card), kept
    # off the first frame.
    from kivy.core.audio import SoundLoader
    return SoundLoader


class KivyPlayer:
    """Plays WAV files through Kivy's SoundLoader (SDL2 mixer) on the station's default output.

    ``play`` is called from the voice worker (and for tones from the UI thread): the file is loaded
    and started right there — SDL's mixer may be driven from any thread, and waiting for the UI
    thread would wait for the frame being drawn. Tones and fixed prompts (``prompt-*`` files, which
    never change) stay loaded, the most recent ``KEEP_LOADED`` of them. ``started`` keeps
    (path, volume) of recent playbacks, for tests and the benchmark.
    """

    KEEP_LOADED = 80

    def __init__(self, defer_audio: bool = False) -> None:
        """With ``defer_audio`` the audio opens when :meth:`open_audio` is called (the running kiosk
        calls it once the first frame is drawn); otherwise now."""
        self._lock = threading.Lock()
        self._sound = None
        self._loaded: OrderedDict[Path, object] = OrderedDict()
        self.started: list[tuple[Path, float]] = []
        self.listeners: list = []
        self._audio = threading.Event()
        if not defer_audio:
            self.open_audio()

    def open_audio(self) -> None:
        """Open the audio output (Kivy's SDL mixer); sounds asked for before then wait for it."""
        _sound_loader()
        self._audio.set()

    def _load(self, path: Path):
        if not self._audio.wait(AUDIO_WAIT_S):      # the first frame is late: open it here, not later
            self.open_audio()
        loader = _sound_loader()
        if not path.name.startswith(("tone-", "prompt-")):
            return loader.load(str(path))
        with self._lock:
            sound = self._loaded.get(path)
            if sound is not None:
                self._loaded.move_to_end(path)
                return sound
        sound = loader.load(str(path))
        if sound is not None:
            with self._lock:
                self._loaded[path] = sound
                while len(self._loaded) > self.KEEP_LOADED:
                    self._loaded.popitem(last=False)
        return sound

    def preload(self, path: Path) -> None:
        """Load a fixed prompt now, so that playing it later starts at once."""
        self._load(Path(path))

    def play(self, path: Path, volume: float) -> None:
        sound = self._load(Path(path))
        if sound is not None:
            self._start(sound, Path(path), volume)     # SDL's mixer may be started from any thread

    def _start(self, sound, path: Path, volume: float) -> None:
        with self._lock:
            if self._sound is not None and self._sound is not sound:
                self._sound.stop()
            self._sound = sound
        sound.volume = volume
        sound.seek(0)
        sound.play()
        self.started.append((path, volume))
        del self.started[:-50]
        for listener in self.listeners:
            listener(path, volume)

    def stop(self) -> None:
        with self._lock:
            sound, self._sound = self._sound, None
        if sound is not None:
            sound.stop()

    def set_volume(self, volume: float) -> None:
        with self._lock:
            if self._sound is not None:
                self._sound.volume = volume


def attach_voice(ctx, warm: bool = True, defer_audio: bool = False) -> Voice:
    """Build the kiosk's voice with a :class:`KivyPlayer`, start it and put it in ``ctx.services``
    (``defer_audio``: see :class:`KivyPlayer`)."""
    voice = build_voice(ctx.settings, KivyPlayer(defer_audio=defer_audio))
    ctx.services["voice"] = voice
    voice.start(warm=warm)
    return voice


class VoiceIcon(Icon):
    """Icons of the voice controls: ``speaker`` (say it again), ``text-sound`` (a large and a small A:
    text size and sound settings)."""

    def _draw_text_sound(self) -> None:
        self._line(0.04, 0.14, 0.26, 0.86, 0.48, 0.14, w=0.09)
        self._line(0.12, 0.4, 0.4, 0.4, w=0.08)
        self._line(0.56, 0.14, 0.72, 0.62, 0.88, 0.14, w=0.07)
        self._line(0.61, 0.3, 0.83, 0.3, w=0.06)

    def _draw_speaker(self) -> None:
        self._line(0.1, 0.38, 0.1, 0.62, 0.28, 0.62, 0.28, 0.38, w=0.08, close=True)
        Triangle(points=self._pts(0.28, 0.62, 0.52, 0.84, 0.52, 0.16))
        Triangle(points=self._pts(0.28, 0.62, 0.52, 0.16, 0.28, 0.38))
        self._circle(0.52, 0.5, 0.2, w=0.07, a0=50, a1=130)
        self._circle(0.52, 0.5, 0.36, w=0.07, a0=50, a1=130)


class IconButton(Pressable):
    """A square header button showing one :class:`VoiceIcon` (``icon``)."""

    icon = StringProperty("")


class FitButton(KButton):
    """A button as wide as its text needs (plus an icon's room when ``icon_room``: a toggle whose
    check mark comes and goes keeps its width)."""

    icon_room = False

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("size_hint_x", None)
        super().__init__(**kwargs)

    def on_kv_post(self, base_widget) -> None:
        self.ids.label.bind(width=self._fit)
        self.bind(height=self._fit, padding=self._fit)
        self._fit()

    def _fit(self, *_args) -> None:
        room = self.height * 0.5 + dp(14) if self.icon_room or self.icon else 0
        self.width = self.ids.label.width + room + self.padding[0] + self.padding[2]


class ModeButton(FitButton):
    """A toggle: a check mark and the accent colour while ``active``."""

    icon_room = True
    active = BooleanProperty(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.on_active(self, self.active)

    def on_active(self, _instance, active: bool) -> None:
        self.icon = "check" if active else ""
        self.bg_color = theme.OK if active else theme.NEUTRAL


class VoiceControl:
    """What the voice and seeing controls do, for the shell: speak screens, repeat, volume, mute,
    大字, 高对比, tones; and the reset for the next person."""

    def __init__(self, shell, voice: Voice | None) -> None:
        super().__init__()
        self.shell = shell
        self.voice = voice
        self.panel = VolumePanel(control=self)
        tr.bind(lang=self._update)
        self._update()

    # speaking ------------------------------------------------------------------------------
    def speak_screen(self, screen):
        """Say what ``screen`` says when it appears; returns the :class:`~kiosk.speech.voice.Spoken` record."""
        if self.voice is None:
            return None
        key, lines = screen.speech()
        if lines is None:
            lines = fixed_lines(prompt(key), tr.lang)
        self.voice.say(lines, tr.lang, key)
        return self.voice.history[-1]

    def speak(self, key: str) -> None:
        """Say the catalogued prompt ``key`` (a screen's new state, the idle warning)."""
        if self.voice is not None:
            self.voice.say_prompt(key, tr.lang)

    def repeat(self) -> None:
        """The speaker button."""
        if self.voice is not None:
            self.voice.repeat()

    def tone(self, name: str) -> None:
        """A short tone: "tap" on an accepted tap, "card" on a card read."""
        if self.voice is not None:
            self.voice.tone(name)

    # per-visit controls ----------------------------------------------------------------------
    def louder(self) -> None:
        if self.voice is not None:
            self.voice.louder()
        self._update()

    def quieter(self) -> None:
        if self.voice is not None:
            self.voice.quieter()
        self._update()

    def toggle_mute(self) -> None:
        if self.voice is not None:
            self.voice.toggle_mute()
        self._update()

    def toggle_large(self) -> None:
        look.large = not look.large

    def toggle_contrast(self) -> None:
        look.contrast = not look.contrast

    def open_panel(self) -> None:
        """Show the volume panel above everything."""
        if self.panel.parent is None:
            self.shell.add_widget(self.panel)

    def close_panel(self) -> None:
        if self.panel.parent is not None:
            self.panel.parent.remove_widget(self.panel)

    def reset(self) -> None:
        """The visit ended: station volume, unmuted, standard look, panel closed."""
        self.close_panel()
        if self.voice is not None:
            self.voice.reset_session()
        look.reset()
        self._update()

    def _update(self, *_args) -> None:
        voice, panel = self.voice, self.panel
        panel.muted = bool(voice and voice.muted)
        if voice is None:
            panel.level_text = tr._("Sound is off at this kiosk")
        elif voice.muted:
            panel.level_text = tr._("Muted")
        else:
            panel.level_text = tr._("Volume {n} of 10", n=round(voice.volume * 10))


class HeaderVoice(BoxLayout):
    """The header's group: say it again, and the panel with volume, mute, 大字 and 高对比."""

    control = ObjectProperty(None, allownone=True)


class ViewToggles(BoxLayout):
    """大字 and 高对比 as two big toggles (home screen)."""

    control = ObjectProperty(None, allownone=True)


class VolumePanel(FloatLayout):
    """Volume down / up, mute, and the seeing modes for this visit; Done closes it."""

    #: it covers the screen: touches never reach what is behind it
    modal = True
    control = ObjectProperty(None, allownone=True)
    level_text = StringProperty("")
    muted = BooleanProperty(False)
    bg_color = ColorProperty(theme.OVERLAY)

    def on_touch_down(self, touch) -> bool:
        super().on_touch_down(touch)
        return True                     # nothing behind the panel is pressed through it


Builder.load_file(str(Path(__file__).with_name("voice.kv")))
