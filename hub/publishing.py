"""Publishing a downlink document: validate, version, store, send retained — for the command line
(``yizhan hub publish``) and the workbench alike.

:func:`prepare` does everything but sending (a roster gets each volunteer's hub balance), so a
caller can show the validated document and its difference from the published one first;
:func:`publish` then sends it and waits for the broker's confirmation.
"""
from __future__ import annotations

import difflib
import json
import os
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from hub import models as m
from hub import scopes
from hub.service import Hub
from hub.store import HubStore
from hub.timebank import roster_with_balances
from sync.documents import Document, make_document
from sync.messages import ALL_STATIONS, SchemaError


def with_balances(store: HubStore, doc_type: str, body: Any) -> Any:
    """The body as it will travel: a roster carries each volunteer's hub balance."""
    if doc_type == "roster" and isinstance(body, dict):
        return roster_with_balances(store.engine, body)
    return body


def current(store: HubStore, doc_type: str, scope: str = ALL_STATIONS) -> tuple[int, Any] | None:
    """The published ``(version, body)`` of a type and scope, or None."""
    with store.engine.connect() as conn:
        row = conn.execute(select(m.documents.c.version, m.documents.c.body)
                           .where((m.documents.c.doc_type == doc_type) & (m.documents.c.scope == scope))).first()
    return (row[0], json.loads(row[1])) if row else None


def check(doc_type: str, body: Any, scope: str = ALL_STATIONS) -> Document:
    """Validate a body as kiosks will, without storing anything.

    Raises:
        MessageError: what a kiosk would reject, with the reason.
    """
    issued = datetime.now(timezone.utc).isoformat(timespec="milliseconds")     # times are bounded at the door
    return make_document(doc_type, 1, scope, issued, body)


def diff(store: HubStore, doc_type: str, body: Any, scope: str = ALL_STATIONS) -> list[str]:
    """Unified diff lines from the published body to ``body`` (pretty JSON, keys sorted)."""
    old = current(store, doc_type, scope)

    def lines(value: Any) -> list[str]:
        return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True).splitlines()
    return list(difflib.unified_diff(lines(old[1]) if old else [], lines(body),
                                     f"{doc_type} v{old[0]}" if old else "(none)", f"{doc_type} (new)",
                                     lineterm="", n=2))


def publish(store: HubStore, doc_type: str, body: Any, scope: str = ALL_STATIONS, version: int | None = None,
            *, signing_key: Ed25519PrivateKey | None, **broker: Any) -> Document:
    """Validate, store with the next version, sign, and publish retained; wait for the broker.

    Args:
        signing_key: the hub's document key (kiosks refuse unsigned documents; None only in tests
            that show that refusal).
        broker: ``host``, ``port``, ``base_topic``, ``tls``, ``ca_file``, ``username``, ``password``.

    Raises:
        MessageError: the document would be rejected by kiosks (nothing stored).
        HubError: stored but the broker did not confirm (publishing again is safe).
    """
    if not isinstance(body, dict):
        raise SchemaError(f"{doc_type} document: body must be an object")
    doc = store.prepare_document(doc_type, with_balances(store, doc_type, body), scope, version, signing_key)
    hub = Hub(store, client_id=f"hub-publish-{os.getpid()}-{id(doc)}", **broker)
    hub.start()
    try:
        hub.publish_document(doc)
    finally:
        hub.stop()
    return doc


def publish_requests(store: HubStore, *, signing_key: Ed25519PrivateKey | None, **broker: Any) -> list[Document]:
    """Publish every station's own ``requests`` document (:mod:`hub.scopes`) under its station's
    topic, over one broker connection; returns them.

    Raises:
        MessageError: a document would be rejected by kiosks (those before it are stored).
        HubError: stored but the broker did not confirm (publishing again is safe).
    """
    docs = [store.prepare_document("requests", body, station, signing_key=signing_key)
            for station, body in scopes.station_bodies(store.engine).items()]
    hub = Hub(store, client_id=f"hub-publish-{os.getpid()}-{id(docs)}", **broker)
    hub.start()
    try:
        for doc in docs:
            hub.publish_document(doc)
    finally:
        hub.stop()
    return docs
