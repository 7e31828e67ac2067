"""Identity: documents, contactless UIDs and QR tokens become masked persons; refusals are typed;
consent is journaled once; nothing personal beyond masked forms is kept."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from drivers.sim.idcard import SAMPLE_CARDS
from kiosk.identity import Identified, IdentityService, Refused
from kiosk.journal import Journal
from kiosk.privacy import person_key
from kiosk.roster import Roster
from kiosk.tokens import issue_token

KEY = bytes(range(32))


@pytest.fixture()
def journal(data_dir):
    with Journal(data_dir / "journal.sqlite3", "st-1") as j:
        yield j


def service(journal, data_dir, today=date(2026, 11, 22)):
    return IdentityService(KEY, journal, lambda: Roster.load(data_dir), today=lambda: today)


def write_roster(data_dir, **volunteer):
    body = {"teams": [{"id": "orange", "name": "暖心橙"}],
            "volunteers": [{"id": "V1", "name": "测试乙", "teams": ["orange"], **volunteer}]}
    (data_dir / "roster.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")


def test_resident_card_gives_a_masked_person_and_asks_consent_once(journal, data_dir):
    svc = service(journal, data_dir)
    doc = SAMPLE_CARDS["resident"].expected
    outcome = svc.from_document(doc)
    assert isinstance(outcome, Identified) and outcome.needs_consent
    p = outcome.person
    assert p.role == "resident" and p.display_name == "测*甲" and p.masked_id == "310***********1230"
    assert p.person_key == person_key(KEY, doc.number) and p.birth_year == 1950 and p.age_band == "70-79"
    svc.record_consent(p, True)
    again = svc.from_document(doc)
    assert not again.needs_consent and again.consent_given is True
    kinds = [r.kind for r in journal.records()]
    assert kinds == ["visit", "consent", "visit"]
    raw = data_dir.joinpath("journal.sqlite3").read_bytes()
    assert doc.number.encode() not in raw and doc.name.encode("utf-8") not in raw


def test_every_document_kind_identifies_or_is_refused_for_a_reason(journal, data_dir):
    svc = service(journal, data_dir)
    results = {k: svc.from_document(c.expected) for k, c in SAMPLE_CARDS.items()}
    assert results["resident_expired"] == Refused("document_expired")
    assert results["resident_bad_check"] == Refused("bad_check_digit")
    for kind in ("resident", "resident_young", "hmt_permit", "foreign_2017", "foreign_2023"):
        assert isinstance(results[kind], Identified), kind
    assert results["foreign_2023"].person.document_kind == "foreign_2023"


def test_volunteer_by_card_uid_and_by_person_key(journal, data_dir):
    young = SAMPLE_CARDS["resident_young"].expected
    write_roster(data_dir, card_uid="04a1b2c3", person_key=person_key(KEY, young.number))
    svc = service(journal, data_dir)
    by_uid = svc.from_card_uid("04A1B2C3")
    assert isinstance(by_uid, Identified) and by_uid.person.role == "volunteer"
    assert by_uid.person.volunteer_id == "V1" and by_uid.person.team == "orange" and not by_uid.needs_consent
    by_card = svc.from_document(young)
    assert by_card.person.role == "volunteer" and by_card.person.display_name == "测*乙"
    assert svc.from_card_uid("DEADBEEF") == Refused("unknown_card", "DEADBEEF")   # the UID, for staff to bind


def test_qr_tokens_forged_expired_and_valid(journal, data_dir):
    write_roster(data_dir, card_uid="04A1B2C3")
    svc = service(journal, data_dir)
    resident_key = person_key(KEY, SAMPLE_CARDS["resident"].expected.number)
    good = issue_token(KEY, "resident", resident_key, timedelta(days=30), "st-1")
    outcome = svc.from_token(good)
    assert isinstance(outcome, Identified) and outcome.person.person_key == resident_key
    volunteer = svc.from_token(issue_token(KEY, "volunteer", "V1", timedelta(days=1), "st-1"))
    assert volunteer.person.role == "volunteer"
    assert svc.from_token(issue_token(KEY, "volunteer", "V404", timedelta(days=1), "st-1")).reason == "unknown_card"
    forged = issue_token(bytes(32), "resident", resident_key, timedelta(days=30), "st-1")
    assert svc.from_token(forged).reason == "token_invalid"
    assert svc.from_token(good[:-3] + "AAA").reason == "token_invalid"
    old = issue_token(KEY, "resident", resident_key, timedelta(seconds=1), "st-1", now=1_000_000)
    assert svc.from_token(old).reason == "token_expired"
    assert svc.from_token("not a token").reason == "token_invalid"
