"""Kiosk side of the downlink: retained, versioned ``config``, ``roster`` and ``catalog`` documents.

Each document arrives for this station (``<base>/<station>/<type>``) or for every station
(``<base>/_all/<type>``). Its signature is checked with the hub's public key
(``sync.document_public_key``; without one every document is refused), then it is validated,
compared with the stored version of the same type and
scope, and applied atomically: written to ``<data_dir>/downlink/<type>.<scope>.json`` through a
temporary file, fsync and rename. A malformed or older document is rejected and the current one
kept. Across the two scopes one rule holds: the document issued last wins, and one issued before
the applied one of its type is refused whatever its scope. A document past its ``expires`` is
still used, and :meth:`DownlinkStore.expired` names it for staff.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from kiosk.documents import (applied_versions, current_documents, document_path, expired_documents, issued_at,
                             read_document, write_document)
from sync.documents import DocumentKeyError, decode_document, encode_document, public_key_from_hex
from sync.messages import ALL_STATIONS, MessageError, StationMismatch

log = logging.getLogger(__name__)

__all__ = ["ApplyResult", "DocumentKeyError", "DocumentRejected", "DownlinkStore", "applied_versions", "current_documents",
           "expired_documents"]


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


class DownlinkStore:
    """Applies received documents for one station into its data directory (thread-safe).

    Args:
        data_dir: the kiosk data directory.
        station: this station's id.
        public_key: the hub's document key, 64 hex digits ("" refuses every document).

    Raises:
        DocumentKeyError: ``public_key`` is not 64 hex digits.
    """

    def __init__(self, data_dir: Path | str, station: str, public_key: str = "") -> None:
        self.data_dir = Path(data_dir)
        self.station = station
        self.public_key = public_key_from_hex(public_key) if public_key else None
        if self.public_key is None:
            log.warning("no sync.document_public_key is set: config, roster and catalog documents will be refused")
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
            doc = decode_document(raw, doc_type, scope, public_key=self.public_key)
            with self._lock:
                effective = current_documents(self.data_dir).get(doc_type)
                if effective and issued_at({"issued": doc.issued}) < issued_at(effective) and not (
                        effective["scope"] == scope and effective["version"] == doc.version):
                    raise DocumentRejected(f"{doc_type} version {doc.version} for {scope} was issued "
                                           f"{doc.issued}, before the applied one ({effective['scope']} "
                                           f"version {effective['version']}, {effective['issued']}); "
                                           "keeping the applied one")
                current = read_document(document_path(self.data_dir, doc_type, scope))
                if current and doc.version <= current["version"]:
                    if doc.version == current["version"] and doc.body == current["body"]:
                        return ApplyResult(False, doc_type, scope, doc.version, "already applied")
                    raise DocumentRejected(f"{doc_type} version {doc.version} is not newer than the applied "
                                           f"version {current['version']}; keeping the current one")
                write_document(self.data_dir, doc_type, scope, encode_document(doc))
        except MessageError as exc:
            self.rejected += 1
            log.warning("rejected %s document for %s: %s", doc_type, scope, exc)
            return ApplyResult(False, doc_type, scope, None, str(exc))
        log.info("applied %s version %d for %s", doc_type, doc.version, scope)
        return ApplyResult(True, doc_type, scope, doc.version)

    def expired(self) -> list[str]:
        """Types whose applied document is past its expiry (kept in use; staff are told)."""
        return expired_documents(self.data_dir)

    def versions(self) -> dict[str, int]:
        """The effective applied version of each type."""
        return applied_versions(self.data_dir)
