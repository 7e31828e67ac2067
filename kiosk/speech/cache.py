"""Rendered speech on disk: one WAV per (engine version, language, text), written once, its silent
edges trimmed (a prompt starts sounding at once; pieces of an assembled sentence join closely).

Lives under ``<data_dir>/voice/cache``. A new engine version or a changed text simply gets a new
file; :meth:`PromptCache.prune` removes files no catalogued prompt uses any more.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from kiosk.speech.audio import Audio, read_wav, trim, write_wav
from kiosk.speech.engines import SpeechEngine


#: part of every key: bump when what is stored for the same engine output changes
FORMAT = "trimmed-1"


class PromptCache:
    """Audio for fixed texts, rendered by ``engine`` on first use and kept on disk."""

    def __init__(self, folder: Path, engine: SpeechEngine) -> None:
        self.folder = Path(folder)
        self.engine = engine

    def path_for(self, text: str, lang: str) -> Path:
        """Where the audio of ``text`` in ``lang`` is (or will be) kept."""
        key = hashlib.sha256(f"{FORMAT}\n{self.engine.version(lang)}\n{lang}\n{text}".encode()).hexdigest()[:32]
        return self.folder / f"{key}.wav"

    def has(self, text: str, lang: str) -> bool:
        """True when the audio is already on disk."""
        return self.path_for(text, lang).is_file()

    def get(self, text: str, lang: str) -> Audio:
        """The audio of ``text``: from disk, or rendered now and stored.

        Raises:
            SpeechError: the engine failed.
        """
        path = self.path_for(text, lang)
        if path.is_file():
            return read_wav(path)
        audio = trim(self.engine.synthesize(text, lang))
        write_wav(path, audio)
        return audio

    def size_bytes(self) -> int:
        """Bytes on disk."""
        return sum(p.stat().st_size for p in self.folder.glob("*.wav")) if self.folder.is_dir() else 0

    def prune(self, keep: set[Path]) -> int:
        """Delete cached files not in ``keep``; returns how many were removed."""
        removed = 0
        for path in self.folder.glob("*.wav") if self.folder.is_dir() else []:
            if path not in keep:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
