"""Mono 16-bit PCM audio as plain bytes: WAV files, silence, tones, joining and assembling pieces,
trimming silent edges, loudness.

Only the standard library (``wave``, ``array``), so tests can check audio without a sound card.
"""
from __future__ import annotations

import array
import math
import os
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path


class AudioError(Exception):
    """An audio file that cannot be used (missing, not 16-bit mono PCM WAV)."""


@dataclass(frozen=True)
class Audio:
    """Mono signed 16-bit little-endian PCM at ``rate`` Hz."""

    pcm: bytes
    rate: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.pcm) / 2 / self.rate

    def rms(self) -> float:
        """Root-mean-square amplitude in 0..1 (0 = silence)."""
        samples = array.array("h", self.pcm)
        if not samples:
            return 0.0
        return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768


def silence(seconds: float, rate: int) -> Audio:
    """``seconds`` of silence."""
    return Audio(bytes(2 * int(seconds * rate)), rate)


def tone(freqs: list[float], seconds: float, rate: int = 22050, level: float = 0.35) -> Audio:
    """A short beep: each frequency in turn for ``seconds / len(freqs)``, with 5 ms fades (no clicks)."""
    per = int(seconds * rate / len(freqs))
    fade = int(0.005 * rate)
    samples = array.array("h")
    for f in freqs:
        for i in range(per):
            envelope = min(1.0, i / fade, (per - i) / fade)
            samples.append(int(32767 * level * envelope * math.sin(2 * math.pi * f * i / rate)))
    return Audio(samples.tobytes(), rate)


def join(pieces: list[Audio], gap_s: float = 0.25) -> Audio:
    """Pieces one after another with ``gap_s`` of silence between them (all at the same rate).

    Raises:
        AudioError: the pieces have different sample rates.
    """
    if not pieces:
        raise AudioError("nothing to join")
    rate = pieces[0].rate
    if any(p.rate != rate for p in pieces):
        raise AudioError("cannot join audio at different sample rates")
    gap = silence(gap_s, rate).pcm
    return Audio(gap.join(p.pcm for p in pieces), rate)


def trim(audio: Audio, threshold: float = 0.01, margin_s: float = 0.02) -> Audio:
    """``audio`` without the silence at its start and end (samples under ``threshold`` of full scale),
    keeping ``margin_s`` of it on each side; all-silent audio comes back empty."""
    samples = array.array("h", audio.pcm)
    level = int(threshold * 32768)
    first = next((i for i, s in enumerate(samples) if abs(s) > level), None)
    if first is None:
        return Audio(b"", audio.rate)
    last = next(i for i in range(len(samples) - 1, -1, -1) if abs(samples[i]) > level)
    margin = int(margin_s * audio.rate)
    start, end = max(0, first - margin), min(len(samples), last + 1 + margin)
    return Audio(samples[start:end].tobytes(), audio.rate)


def fade(audio: Audio, seconds: float = 0.008) -> Audio:
    """``audio`` faded in and out over ``seconds`` at each end (pieces cut from speech join without clicks)."""
    samples = array.array("h", audio.pcm)
    n = min(int(seconds * audio.rate), len(samples) // 2)
    for i in range(n):
        gain = i / n
        samples[i] = int(samples[i] * gain)
        samples[-1 - i] = int(samples[-1 - i] * gain)
    return Audio(samples.tobytes(), audio.rate)


def assemble(parts: list[tuple[float, Audio]]) -> Audio:
    """One sentence from rendered pieces: each ``(pause_s, piece)`` is faded at its edges and follows
    ``pause_s`` of silence (the first pause is ignored).

    Raises:
        AudioError: no pieces, or pieces at different sample rates.
    """
    if not parts:
        raise AudioError("nothing to assemble")
    rate = parts[0][1].rate
    if any(piece.rate != rate for _pause, piece in parts):
        raise AudioError("cannot assemble audio at different sample rates")
    out = bytearray()
    for index, (pause, piece) in enumerate(parts):
        if index:
            out += silence(pause, rate).pcm
        out += fade(piece).pcm
    return Audio(bytes(out), rate)


def write_wav(path: Path, audio: Audio) -> Path:
    """Write ``audio`` to ``path`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh, wave.open(fh, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(audio.rate)
            w.writeframes(audio.pcm)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_wav(path: Path) -> Audio:
    """Read a mono 16-bit WAV file.

    Raises:
        AudioError: missing or in another format.
    """
    try:
        with wave.open(str(path), "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise AudioError(f"{path}: not 16-bit mono ({w.getnchannels()} channels, "
                                 f"{8 * w.getsampwidth()} bit)")
            return Audio(w.readframes(w.getnframes()), w.getframerate())
    except (OSError, EOFError, wave.Error) as exc:
        raise AudioError(f"{path}: cannot read: {exc}") from exc
