"""The voice of the kiosk: speaks catalogued prompts and sentences on a worker thread, plays them
through an injected :class:`Player`, and keeps the per-visit volume and mute.

Nothing here touches Kivy or blocks the caller: :meth:`Voice.say` queues and returns. A newer
request makes older ones that have not started playing stale (the person moved on). Fixed lines
come from the on-disk :class:`~kiosk.speech.cache.PromptCache`; a result's lines with numbers are
assembled from cached pieces (no synthesis between the result screen and its audio); only a line
with a name is synthesised, and joined to the cached ones.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from kiosk.settings import VoiceSettings
from kiosk.speech.audio import Audio, AudioError, assemble, join, tone, trim, write_wav
from kiosk.speech.cache import PromptCache
from kiosk.speech.engines import SpeechEngine, SpeechError
from kiosk.speech.prompts import PROMPTS, prompt, result_texts
from kiosk.speech.sentences import Line, Piece, fixed_lines, piece_texts

log = logging.getLogger(__name__)

VOLUME_STEP = 0.2
#: tone name -> (frequencies in Hz, seconds)
TONES = {"tap": ([880.0], 0.06), "card": ([660.0, 990.0], 0.16)}


class Player(Protocol):
    """Plays WAV files on the station's output (the Kivy side implements it)."""

    def play(self, path: Path, volume: float) -> None:
        """Start playing ``path`` at ``volume`` (0..1), replacing what plays now. Any thread."""

    def stop(self) -> None:
        """Stop playing."""

    def set_volume(self, volume: float) -> None:
        """Change the volume of what plays now."""

    def preload(self, path: Path) -> None:
        """Get ``path`` ready to start at once (a fixed prompt that will be played again)."""


@dataclass(frozen=True)
class Spoken:
    """A record of one utterance: what was said, in which language, and why (the prompt key)."""

    key: str
    lang: str
    text: str
    requested_at: float = 0.0


def in_quiet_hours(spec: str, now: datetime) -> bool:
    """True when ``now`` falls in ``"HH:MM-HH:MM"`` (which may run past midnight)."""
    if not spec:
        return False
    start, end = (datetime.strptime(p, "%H:%M").time() for p in spec.split("-"))
    t = now.time()
    return start <= t < end if start <= end else t >= start or t < end


@dataclass
class _Request:
    generation: int
    key: str
    lang: str
    lines: list[Line]
    requested_at: float = field(default_factory=time.monotonic)


class Voice:
    """Speech and tones for one kiosk.

    Args:
        settings: the ``[voice]`` settings.
        engine: the speech engine (``None``: speech off, tones still play).
        folder: ``<data_dir>/voice`` (cache and the files being played).
        player: where audio goes.
        now: wall clock, for quiet hours.
        language: the language each new person starts in (its prompts are made ready first).
    """

    def __init__(self, settings: VoiceSettings, engine: SpeechEngine | None, folder: Path, player: Player,
                 now: Callable[[], datetime] = datetime.now, language: str = "zh_CN") -> None:
        self.settings = settings
        self.language = language
        self.engine = engine
        self.folder = Path(folder)
        self.cache = PromptCache(self.folder / "cache", engine) if engine else None
        self.player = player
        self.now = now
        self.volume = settings.volume
        self.muted = False
        self.history: list[Spoken] = []
        self.listeners: list[Callable[[Spoken], None]] = []
        self.errors = 0
        self._last: _Request | None = None
        self._generation = 0
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._turn = 0
        self._tones = {name: write_wav(self.folder / f"tone-{name}.wav", tone(freqs, secs))
                       for name, (freqs, secs) in TONES.items()}

    # lifecycle ------------------------------------------------------------------------------
    def start(self, warm: bool = True) -> None:
        """Start the worker unless it runs; with ``warm``, also render every catalogued prompt it lacks
        (both languages) on a thread of its own (the running kiosk adds that after its first frame)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="voice", daemon=True)
            self._thread.start()
        if warm and self.cache is not None:
            threading.Thread(target=self.warm, kwargs={"prune": True}, name="voice-warm", daemon=True).start()

    def stop(self) -> None:
        """Stop the worker and the sound."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None
        self.player.stop()

    def warm(self, langs: tuple[str, ...] = ("zh_CN", "en"), pieces: bool = True, prune: bool = False) -> int:
        """Render every catalogued prompt and every result's fixed lines not yet cached, and have the
        player get the default language's screen prompts ready; then, with ``pieces``, every piece
        results are assembled from (the start language first). With ``prune`` (and ``pieces``), delete
        the cached files none of these use (an older engine's, an older format's, a changed text's).
        Returns how many texts were rendered."""
        rendered = 0
        if self.cache is None:
            return rendered
        keep: set[Path] = set()
        try:
            for lang in langs:
                texts = [line.text for key in PROMPTS for line in fixed_lines(prompt(key), lang)] + \
                    [line.text for line in fixed_lines(result_texts(), lang)]
                rendered += self._render_missing(texts, lang, keep)
            for key in PROMPTS:
                lines = fixed_lines(prompt(key), self.language)
                self.player.preload(self._render(_Request(0, key, self.language, lines)))
            for lang in sorted(langs, key=lambda lang: lang != self.language) if pieces else ():
                rendered += self._render_missing(piece_texts(lang), lang, keep)
            if prune and pieces:
                removed = self.cache.prune(keep)
                log.info("voice: %d texts rendered, %d unused cached files removed", rendered, removed)
        except (SpeechError, AudioError, OSError) as exc:
            log.error("voice: cannot render the prompts: %s", exc)
        return rendered

    def _render_missing(self, texts, lang: str, keep: set[Path]) -> int:
        assert self.cache is not None
        missing = 0
        for text in dict.fromkeys(texts):
            keep.add(self.cache.path_for(text, lang))
            if not self.cache.has(text, lang):
                self.cache.get(text, lang)
                missing += 1
        return missing

    # speaking -------------------------------------------------------------------------------
    def say_prompt(self, key: str, lang: str) -> None:
        """Speak the catalogued prompt ``key`` (see :mod:`kiosk.speech.prompts`)."""
        self.say(fixed_lines(prompt(key), lang), lang, key)

    def say(self, lines: list[Line], lang: str, key: str = "") -> None:
        """Speak ``lines`` after whatever is being prepared now is dropped. Returns at once."""
        self._generation += 1
        request = _Request(self._generation, key, lang, list(lines))
        self._last = request
        spoken = Spoken(key, lang, " ".join(line.text for line in lines), request.requested_at)
        self.history.append(spoken)
        del self.history[:-200]
        for listener in self.listeners:
            listener(spoken)
        if self.settings.enabled and self.engine is not None:
            self._queue.put(request)

    def repeat(self) -> None:
        """Say the last utterance again (the speaker button)."""
        if self._last is not None:
            self.say(self._last.lines, self._last.lang, self._last.key)

    def silence(self) -> None:
        """Stop speaking now and drop what is queued."""
        self._generation += 1
        self.player.stop()

    def tone(self, name: str) -> None:
        """A short tone ("tap", "card") when tones are on and the voice is not muted."""
        if self.settings.tones and self.effective_volume() > 0:
            self.player.play(self._tones[name], self.effective_volume())

    # per-visit controls -----------------------------------------------------------------------
    def effective_volume(self) -> float:
        """The volume now: 0 when muted, capped during quiet hours."""
        if self.muted:
            return 0.0
        if in_quiet_hours(self.settings.quiet_hours, self.now()):
            return min(self.volume, self.settings.quiet_volume)
        return self.volume

    def louder(self) -> None:
        """One step up (and unmute)."""
        self.muted = False
        self.volume = min(1.0, round(self.volume + VOLUME_STEP, 2))
        self.player.set_volume(self.effective_volume())

    def quieter(self) -> None:
        """One step down (never below one step: silence is the mute button's job)."""
        self.volume = max(VOLUME_STEP, round(self.volume - VOLUME_STEP, 2))
        self.player.set_volume(self.effective_volume())

    def toggle_mute(self) -> None:
        """Mute or unmute for this visit."""
        self.muted = not self.muted
        if self.muted:
            self.silence()
        else:
            self.player.set_volume(self.effective_volume())

    def reset_session(self) -> None:
        """The next person starts at the station's volume, unmuted, with nothing left to repeat: what
        was said to this person (their masked name, their numbers) is forgotten and its audio deleted."""
        self.silence()
        self.volume = self.settings.volume
        self.muted = False
        self._last = None
        self.history.clear()
        for path in self.folder.glob("utterance-*.wav"):
            path.unlink(missing_ok=True)

    # worker -------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            request = self._queue.get()
            if request is None:
                return
            if request.generation != self._generation or self.effective_volume() <= 0:
                continue
            try:
                path = self._render(request)
            except (SpeechError, AudioError, OSError) as exc:
                self.errors += 1
                log.error("voice: cannot speak %r: %s", request.key, exc)
                continue
            if request.generation == self._generation:
                self.player.play(path, self.effective_volume())

    def _render(self, request: _Request) -> Path:
        """The utterance as one WAV: fixed-only ones once, under a name kept by their text (the player
        may keep them loaded); others in a few files taken in turn (never overwriting what plays)."""
        assert self.cache is not None and self.engine is not None
        if all(line.fixed for line in request.lines):
            path = self.cache.path_for("\n".join(line.text for line in request.lines), request.lang)
            path = path.with_name("prompt-" + path.name)
            if path.is_file():
                return path
        else:
            self._turn = (self._turn + 1) % 4
            path = self.folder / f"utterance-{self._turn}.wav"
        return write_wav(path, join([self._line_audio(line, request.lang) for line in request.lines]))

    def _line_audio(self, line: Line, lang: str) -> Audio:
        assert self.cache is not None and self.engine is not None
        if line.pieces:
            return assemble([(piece.pause_s, self._piece_audio(piece, lang)) for piece in line.pieces])
        if line.fixed:
            return self.cache.get(line.text, lang)
        return trim(self.engine.synthesize(line.text, lang))

    def _piece_audio(self, piece: Piece, lang: str) -> Audio:
        """A piece from the cache; a number that was not pre-rendered is synthesised and not kept."""
        assert self.cache is not None and self.engine is not None
        if piece.fixed or self.cache.has(piece.text, lang):
            return self.cache.get(piece.text, lang)
        return trim(self.engine.synthesize(piece.text, lang))
