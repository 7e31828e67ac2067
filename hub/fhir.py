"""FHIR R4 export of a resident's screening: a ``collection`` Bundle of Observations and ServiceRequests.

Each stored measurement becomes an Observation through the kiosk's own mapping
(:func:`kiosk.health_records.to_fhir_observation`: LOINC codes, UCUM units, the screening category
as the interpretation, the pseudonymous person key as the subject's identifier — never an ID
number). A referral the care team recorded becomes a ServiceRequest (intent ``order``; status
``active`` until its outcome, then ``completed``) whose ``reasonReference`` names the readings
that led to it. ``yizhan hub export fhir KEY`` and the workbench's care page both call
:func:`bundle`.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from hub import care, residents
from hub import models as m
from kiosk.health_records import PERSON_KEY_SYSTEM, to_fhir_observation
from kiosk.records import Record, payload_from_dict

#: SNOMED CT 3457005 |Patient referral|: a screening referral goes to the family doctor, not to a specialty clinic.
SNOMED = "http://snomed.info/sct"
REFERRAL_CODE = {"code": "3457005", "display": "Patient referral"}
_NS = uuid.UUID("5d0e2b1a-8f3c-4a61-b7d2-9e4c1f6a3b80")


def _observation(station: str, rid: str, kind: str, ts: str, payload: dict[str, Any]) -> dict[str, Any]:
    record = Record(rid, station, 0, kind, datetime.fromisoformat(ts), payload_from_dict(kind, payload))
    return to_fhir_observation(record)


def bundle(engine: Engine, person_key: str, stations: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A FHIR R4 ``collection`` Bundle of the person's readings and referrals (JSON-ready dict).

    Raises:
        ResidentError: not a whole person key.
    """
    key = residents.check_key(person_key)
    if len(key) != 64:
        raise residents.ResidentError("a FHIR export needs the whole person key (64 hex digits)")
    entries: list[dict[str, Any]] = []
    for item in reversed(residents.history(engine, key, stations)):
        if item["kind"] in care.TRACK_KINDS.values():
            obs = _observation(item["station"], item["id"], item["kind"], item["ts"], item["payload"])
            entries.append(obs)
    e = m.care_events.c
    with engine.connect() as conn:
        events = conn.execute(select(e.id, e.track, e.event, e.outcome, e.at).where(e.person_key == key)
                              .order_by(e.at)).all()
    outcome = {t: o for _, t, ev, o, _ in events if ev == "outcome"}
    for eid, track, event, _, at in events:
        if event != "referred":
            continue
        kind = care.TRACK_KINDS[track]
        reasons = [{"reference": f"urn:uuid:{_as_uuid(o['id'])}"} for o in entries
                   if o["code"]["coding"][0]["code"] in (("85354-9",) if track == "bp" else ("14743-9", "41653-7"))
                   and o["interpretation"][0]["coding"][0]["code"] not in ("bp_normal", "bp_high_normal", "glu_normal")]
        entries.append({
            "resourceType": "ServiceRequest", "id": eid,
            "status": "completed" if track in outcome else "active", "intent": "order",
            "category": [{"coding": [{"system": SNOMED, **REFERRAL_CODE}]}],
            "code": {"text": "Referral to the family doctor after three high " +
                     ("blood pressure" if kind == "bp_measurement" else "blood glucose") + " readings on different days"},
            "subject": {"identifier": {"system": PERSON_KEY_SYSTEM, "value": key}},
            "authoredOn": at,
            "reasonReference": reasons[-3:],
            "note": [{"text": f"outcome: {outcome[track]}"}] if track in outcome else [],
        })
    for res in entries:
        if not res.get("note"):
            res.pop("note", None)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {"resourceType": "Bundle", "id": str(uuid.uuid5(_NS, f"{key}|{stamp}")), "type": "collection",
            "timestamp": stamp,
            "entry": [{"fullUrl": f"urn:uuid:{_as_uuid(r['id'])}", "resource": r} for r in entries]}


def _as_uuid(rid: str) -> str:
    try:
        return str(uuid.UUID(rid))
    except ValueError:
        return str(uuid.uuid5(_NS, rid))
