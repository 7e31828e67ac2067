"""The kiosk's applied downlink documents: ``config``, ``roster``, ``catalog``, ``requests`` (open
service requests, :mod:`kiosk.community`) and ``calendar`` (activities) from the hub.

The sync layer validates each document that arrives and, when it is newer, hands it here to be
written atomically to ``<data_dir>/downlink/<type>.<scope>.json`` (temporary file, fsync, rename,
directory fsync). The core reads the effective document of each type from the same folder; a
document issued last wins, whichever its scope (this station's or ``_all``). Reads are
cached per file by modification time and size, so a tap that consults the roster three times
reads the files once.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FOLDER = "downlink"
DOCUMENT_TYPES = ("config", "roster", "catalog", "requests", "calendar")
#: The pseudo-station whose documents apply to every station (station ids cannot start with "_").
ALL_STATIONS = "_all"

_cache: dict[Path, tuple[tuple[int, int], dict[str, Any] | None]] = {}
_cache_lock = threading.Lock()


def document_path(data_dir: Path | str, doc_type: str, scope: str) -> Path:
    """Where the applied document of ``doc_type`` for ``scope`` lives."""
    return Path(data_dir) / FOLDER / f"{doc_type}.{scope}.json"


def read_document(path: Path) -> dict[str, Any] | None:
    """The stored document at ``path`` as its dict, or None when absent or unreadable (logged)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    stamp = (st.st_mtime_ns, st.st_size)
    with _cache_lock:
        hit = _cache.get(path)
        if hit and hit[0] == stamp:
            return hit[1]
    try:
        doc = json.loads(path.read_bytes())
        if not (isinstance(doc, dict) and isinstance(doc.get("version"), int) and isinstance(doc.get("body"), dict)):
            raise ValueError("not a document")
    except (OSError, ValueError) as exc:
        log.error("stored document %s is unreadable (%s); ignoring it", path, exc)
        doc = None
    with _cache_lock:
        _cache[path] = (stamp, doc)
    return doc


def write_document(data_dir: Path | str, doc_type: str, scope: str, data: bytes) -> None:
    """Replace the applied document atomically (the caller has validated ``data``)."""
    path = document_path(data_dir, doc_type, scope)
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


def stored_documents(data_dir: Path | str) -> dict[str, dict[str, dict[str, Any]]]:
    """Every applied document: ``{type: {scope: document dict}}`` (scope ``_all`` or the station id)."""
    out: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in DOCUMENT_TYPES}
    folder = Path(data_dir) / FOLDER
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        doc_type, _, scope = path.stem.partition(".")
        doc = read_document(path)
        if doc and doc_type in out:
            out[doc_type][scope] = doc
    return out


def issued_at(doc: dict[str, Any]) -> datetime:
    """When a stored document was issued (the distant past when it does not say)."""
    try:
        when = datetime.fromisoformat(str(doc.get("issued")))
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def current_documents(data_dir: Path | str) -> dict[str, dict[str, Any] | None]:
    """The effective document of each type: ``{"config": {...}, "roster": ..., "catalog": ...}``.

    Each value is ``{"version", "scope", "issued", "expires", "body"}``: of the applied documents of
    that type (this station's and the all-stations one) the one issued last wins, whatever its
    scope (issue 22); None when none has arrived yet.
    """
    out: dict[str, dict[str, Any] | None] = {}
    for doc_type, by_scope in stored_documents(data_dir).items():
        doc = max(by_scope.values(), key=lambda d: (issued_at(d), d.get("scope") != ALL_STATIONS), default=None)
        out[doc_type] = ({"version": doc["version"], "scope": doc.get("scope"), "issued": doc.get("issued"),
                          "expires": doc.get("expires", ""), "body": doc["body"]} if doc else None)
    return out


def expired_documents(data_dir: Path | str, now: datetime | None = None) -> list[str]:
    """The types whose effective document is past its expiry: the kiosk keeps working on it and
    tells staff (the hub has not reached it for that long)."""
    now = now or datetime.now(timezone.utc)
    out = []
    for doc_type, doc in sorted(current_documents(data_dir).items()):
        try:
            if doc and doc.get("expires") and datetime.fromisoformat(doc["expires"]) < now:
                out.append(doc_type)
        except ValueError:
            out.append(doc_type)
    return out


def applied_versions(data_dir: Path | str) -> dict[str, int]:
    """The effective version of each applied type, e.g. ``{"config": 3, "roster": 1}``."""
    return {t: d["version"] for t, d in current_documents(data_dir).items() if d}
