"""Kiosk side of the downlink: retained, versioned ``config``, ``roster`` and ``catalog`` documents.

Each document arrives for this station (``<base>/<station>/<type>``) or for every station
(``<base>/_all/<type>``). It is validated, compared with the stored version of the same type and
scope, and applied atomically: written to ``<data_dir>/downlink/<type>.<scope>.json`` through a
temporary file, fsync and rename. A malformed or older document is rejected and the current one
kept. A station document takes precedence over the all-stations one of the same type.
"""
from __future__ import annotations

import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.messages import (ALL_STATIONS, DOCUMENT_TYPES, Document, MessageError, StationMismatch, decode_document,
                           encode_document)

log = logging.getLogger(__name__)

FOLDER = "downlink"


class DocumentRejected(MessageError):
    """A valid document that is not newer than the one applied."""


@dataclass(frozen=True)
class ApplyResult:
    """What happened to one received document."""

    applied: bool
    doc_type: str
    scope: str
    version: int | None
    reason: str = ""


def _path(data_dir: Path, doc_type: str, scope: str) -> Path:
    return Path(data_dir) / FOLDER / f"{doc_type}.{scope}.json"


def _read(path: Path) -> Document | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    parts = path.name.split(".")
    try:
        return decode_document(raw, parts[0], parts[1])
    except MessageError as exc:
        log.error("stored document %s is unreadable (%s); ignoring it", path, exc)
        return None


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def stored_documents(data_dir: Path | str) -> dict[str, dict[str, Document]]:
    """Every applied document: ``{type: {scope: Document}}`` (scope ``_all`` or the station id)."""
    out: dict[str, dict[str, Document]] = {t: {} for t in DOCUMENT_TYPES}
    folder = Path(data_dir) / FOLDER
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        doc = _read(path)
        if doc and doc.type in out:
            out[doc.type][doc.scope] = doc
    return out


def current_documents(data_dir: Path | str) -> dict[str, dict[str, Any] | None]:
    """The effective document of each type, for the UI: ``{"config": {...}, "roster": ..., "catalog": ...}``.

    Each value is ``{"version", "scope", "issued", "body"}`` (the station's own document if one
    was applied, else the all-stations one), or None when none has arrived yet.
    """
    out: dict[str, dict[str, Any] | None] = {}
    for doc_type, by_scope in stored_documents(data_dir).items():
        own = [d for s, d in by_scope.items() if s != ALL_STATIONS]
        doc = own[0] if own else by_scope.get(ALL_STATIONS)
        out[doc_type] = ({"version": doc.version, "scope": doc.scope, "issued": doc.issued, "body": doc.body}
                         if doc else None)
    return out


def applied_versions(data_dir: Path | str) -> dict[str, int]:
    """The effective version of each applied type, e.g. ``{"config": 3, "roster": 1}``."""
    return {t: d["version"] for t, d in current_documents(data_dir).items() if d}


class DownlinkStore:
    """Applies received documents for one station into its data directory (thread-safe).

    Args:
        data_dir: the kiosk data directory.
        station: this station's id.
    """

    def __init__(self, data_dir: Path | str, station: str) -> None:
        self.data_dir = Path(data_dir)
        self.station = station
        self._lock = threading.Lock()
        self.rejected = 0

    def apply(self, doc_type: str, scope: str, raw: bytes) -> ApplyResult:
        """Validate and apply one document message.

        Args:
            doc_type, scope: from the topic it arrived on.
            raw: the payload (an empty retained message clears nothing and is ignored).

        Returns:
            whether it was applied, and why not.
        """
        if not raw:
            return ApplyResult(False, doc_type, scope, None, "empty message ignored")
        try:
            if scope not in (ALL_STATIONS, self.station):
                raise StationMismatch(f"document for {scope!r} is not for station {self.station!r}")
            doc = decode_document(raw, doc_type, scope)
            with self._lock:
                path = _path(self.data_dir, doc_type, scope)
                current = _read(path)
                if current and doc.version <= current.version:
                    if doc.version == current.version and doc.body == current.body:
                        return ApplyResult(False, doc_type, scope, doc.version, "already applied")
                    raise DocumentRejected(f"{doc_type} version {doc.version} is not newer than the applied "
                                           f"version {current.version}; keeping the current one")
                _write_atomic(path, encode_document(doc))
        except MessageError as exc:
            self.rejected += 1
            log.warning("rejected %s document for %s: %s", doc_type, scope, exc)
            return ApplyResult(False, doc_type, scope, None, str(exc))
        log.info("applied %s version %d for %s", doc_type, doc.version, scope)
        return ApplyResult(True, doc_type, scope, doc.version)

    def versions(self) -> dict[str, int]:
        """The effective applied version of each type."""
        return applied_versions(self.data_dir)
