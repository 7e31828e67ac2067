"""Crafted requests against the running workbench: forged CSRF, another station's ids and pages,
roles, oversized uploads, sign-in throttling, cookie flags — each refused with a clear message and
nothing changed. Also: every route goes through the guard, and the audit log keeps before/after.
"""
from __future__ import annotations

import json

from sqlalchemy import func, select

from hub import models as m
from hub.residents import HEALTH_KINDS
from hub.web import work
from hub.web.accounts import set_disabled
from hub.web.app import create_app
from hub.web.audit import entries
from hub.web.demo import STATIONS, person
from hub.web.guard import MAX_BODY
from hub.web.routes import ROUTES
from tests.hub.web.conftest import PASSWORD, Client

A, B = STATIONS[0], STATIONS[1]


def _alert_id(wb, station: str) -> str:
    return next(a.id for a in work.alerts(wb.engine, (station,)) if a.state == "new")


def _audit_count(wb) -> int:
    with wb.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(m.audit)).scalar_one()


def test_every_route_is_built_by_the_guard(workbench):
    wb, _server = workbench
    endpoints = [r.endpoint for r in create_app(wb).routes if hasattr(r, "endpoint")]
    assert len(endpoints) == len(ROUTES) > 30
    assert all(getattr(e, "guarded", False) for e in endpoints)


def test_signed_out_requests_go_to_sign_in_and_change_nothing(workbench):
    wb, server = workbench
    anon = Client(server.url)
    resp = anon.get(f"/s/{A}/today")
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login")
    rid = _alert_id(wb, A)
    resp = anon.post(f"/s/{A}/alerts/{rid}/ack", csrf="x")
    assert resp.status_code == 401 and "请重新登录" in resp.text
    assert work.get_alert(wb.engine, A, rid).state == "new"


def test_a_forged_csrf_token_is_refused_and_nothing_changes(workbench):
    wb, server = workbench
    c = Client(server.url)
    c.sign_in("zhang")
    rid = _alert_id(wb, A)
    other = Client(server.url)
    other.sign_in("jiedao")
    before = _audit_count(wb)
    for token in ("forged", ""):
        resp = c.post(f"/s/{A}/alerts/{rid}/ack", csrf=token)
        assert resp.status_code == 403 and "表单已过期或不是来自本站" in resp.text
    resp = c.post(f"/s/{A}/alerts/{rid}/ack", csrf=other.csrf)        # another session's valid token
    assert resp.status_code == 403
    assert work.get_alert(wb.engine, A, rid).state == "new"
    assert _audit_count(wb) == before


def test_station_staff_cannot_see_or_act_on_another_station(workbench):
    wb, server = workbench
    c = Client(server.url)
    assert c.sign_in("zhang").status_code == 303
    theirs = _alert_id(wb, B)
    for path in (f"/s/{B}/today", f"/s/{B}/alerts", f"/s/{B}/alerts/{theirs}", f"/s/{B}/station",
                 f"/s/{B}/reviews", f"/s/{B}/today/alerts"):
        resp = c.get(path)
        assert resp.status_code == 403, path
        assert f"驿站 {B} 不在您的账号权限内" in resp.text
        assert "184/115" not in resp.text             # the reading of B's alert
    resp = c.post(f"/s/{B}/alerts/{theirs}/ack")
    assert resp.status_code == 403
    # B's alert id under A's path: not found at A, still untouched at B
    resp = c.post(f"/s/{A}/alerts/{theirs}/ack")
    assert resp.status_code == 400 and "no health alert" in resp.text and "没有做任何更改" in resp.text
    resp = c.post(f"/s/{A}/alerts/{theirs}/action", {"action": "called_120", "note": "x"})
    assert resp.status_code == 400
    assert work.get_alert(wb.engine, B, theirs).state == "new"
    # scope-wide pages list only A
    assert B not in c.get("/stations").text
    assert c.get("/today").headers["location"] == f"/s/{A}/today"


def test_staff_cannot_publish_or_download_district_reports(workbench):
    _wb, server = workbench
    c = Client(server.url)
    c.sign_in("zhang")
    for path in ("/publish", "/reports/volunteers.csv", "/reports/certificate.pdf?volunteer=v-wang", "/audit",
                 "/admin/users"):
        resp = c.get(path)
        assert resp.status_code == 403 and "无权打开此页面" in resp.text, path
    resp = c.post("/publish/send", {"type": "catalog", "scope": "_all", "body": "{}"})
    assert resp.status_code == 403


def _catalog_version(wb) -> int | None:
    with wb.engine.connect() as conn:
        return conn.execute(select(m.documents.c.version).where((m.documents.c.doc_type == "catalog")
                                                                 & (m.documents.c.scope == "_all"))).scalar()


def test_an_oversized_upload_is_refused_before_reading_it(workbench):
    wb, server = workbench
    c = Client(server.url)
    c.sign_in("jiedao")
    before = _catalog_version(wb)
    big = json.dumps({"services": [{"id": f"s{i}", "name": "x" * 100} for i in range(3000)]}).encode()
    assert len(big) > MAX_BODY
    resp = c.http.post(server.url + "/publish/preview", data={"csrf": c.csrf, "type": "catalog", "scope": "_all"},
                       files={"file": ("big.json", big, "application/json")}, allow_redirects=False)
    assert resp.status_code == 413 and "上传内容过大" in resp.text
    assert _catalog_version(wb) == before


def test_a_document_that_fails_validation_is_not_stored(workbench):
    wb, server = workbench
    c = Client(server.url)
    c.sign_in("jiedao")
    before = _catalog_version(wb)
    for body in ('{"services": [{"id": "x"}]}', "not json", '{"services": [], "surprise": 1}'):
        resp = c.post("/publish/send", {"type": "catalog", "scope": "_all", "body": body})
        assert resp.status_code == 400 and "没有做任何更改" in resp.text, body
    resp = c.post("/publish/preview", {"type": "catalog", "scope": "../etc", "body": "{}"})
    assert resp.status_code == 400 and "is not a station id" in resp.text
    assert _catalog_version(wb) == before


def test_sign_in_is_throttled_after_repeated_failures(workbench):
    _wb, server = workbench
    c = Client(server.url)
    for _ in range(5):
        assert c.sign_in("admin", "wrong-password").status_code == 401
    resp = c.sign_in("admin")                       # the right password, but locked for 15 minutes
    assert resp.status_code == 401 and "登录失败次数过多" in resp.text


def test_session_cookie_flags(workbench):
    wb, server = workbench
    c = Client(server.url)
    resp = c.sign_in("jiedao")
    cookie = resp.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = c.http.get(server.url + "/login")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    wb.secure_cookies = True
    try:
        resp = c.http.post(server.url + "/login", data={"username": "jiedao", "password": PASSWORD, "csrf": token},
                           allow_redirects=False)
        assert resp.status_code == 303 and "Secure" in resp.headers["set-cookie"]
    finally:
        wb.secure_cookies = False


def test_passwords_are_argon2id_and_a_disabled_account_loses_its_session(workbench):
    wb, server = workbench
    with wb.engine.connect() as conn:
        hashes = [h for (h,) in conn.execute(select(m.users.c.password_hash))]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    staff = Client(server.url)
    staff.sign_in("zhang")
    set_disabled(wb.engine, "zhang", True, actor="test")
    assert staff.get(f"/s/{A}/today").status_code == 303
    set_disabled(wb.engine, "zhang", False, actor="test")
    actions = [e["action"] for e in entries(wb.engine)][:2]
    assert actions == ["user.enable", "user.disable"]


def test_consent_withdrawal_erases_only_that_persons_health_records_in_scope_and_is_journaled(workbench):
    wb, server = workbench
    key = person(90)                     # the resident of an alert at station A
    c = Client(server.url)
    c.sign_in("zhang")

    def health_rows(k: str) -> int:
        with wb.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(m.records).where(
                m.records.c.kind.in_(HEALTH_KINDS) & m.records.c.payload.like(f'%"{k}"%'))).scalar_one()
    others = health_rows(person(91))
    assert health_rows(key) == 2
    assert [a for a in work.alerts(wb.engine, None, open_only=False) if a.person_key == key]
    resp = c.post(f"/residents/{key}/withdraw", {})
    assert resp.status_code == 400 and health_rows(key) == 2            # the box was not ticked
    resp = c.post(f"/residents/{key}/withdraw", {"confirm": "yes"})
    assert resp.status_code == 303
    assert health_rows(key) == 0 and health_rows(person(91)) == others
    # Erased, not deleted: the rows stay (no hole in a station's sequence) and show nowhere.
    assert not [a for a in work.alerts(wb.engine, None, open_only=False) if a.person_key in (key, "")]
    entry = entries(wb.engine)[0]
    assert entry["action"] == "resident.withdraw_consent" and entry["actor"] == "zhang"
    assert json.loads(entry["before"])["records"] == 2
    with wb.engine.connect() as conn:
        assert conn.execute(select(m.consent_withdrawals.c.deleted).where(
            m.consent_withdrawals.c.person_key == key)).scalar_one() == 2
    resp = c.get("/residents?q=王小明")
    assert "不能用姓名或身份证号" in resp.text
