"""The 四代请求 page: a request asked at a kiosk shows in its station's queue; staff assign a volunteer
and cancel with a reason (crafted like a browser's posts, CSRF included); another station's staff
cannot act on it; every action is in the audit log."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from hub import requests as hr
from hub.web.audit import entries
from hub.web.demo import STATIONS
from kiosk.community.kinds import ASAP, ASSIGNED, CANCELLED
from kiosk.community.requests import Requests
from kiosk.journal import Journal
from kiosk.outbox import Outbox
from kiosk.settings import VolunteerSettings
from kiosk.timebank.service import TimeBank
from sync.messages import MAX_BATCH_BYTES, encode_batch
from tests.hub.web.conftest import Client
from tests.kiosk.test_volunteer import RESIDENT, ROSTER, publish

A, B = STATIONS[0], STATIONS[1]


def ask_at(tmp_path, store, station: str) -> str:
    data = tmp_path / station
    data.mkdir()
    publish(data, "roster", ROSTER)
    journal = Journal(data / Journal.FILENAME, station)
    try:
        bank = TimeBank(journal, dataclasses.replace(VolunteerSettings()), station_id=station, data_dir=data,
                        clock=lambda: datetime.now(timezone.utc))
        asked = Requests(journal, bank, data).ask(RESIDENT, "visit", "purchase", ASAP)
        outbox = Outbox(data / Journal.FILENAME)
        batch = outbox.claim_batch(50, MAX_BATCH_BYTES)
        store.handle_records(f"yizhan/v1/{station}/records", station,
                             encode_batch(station, batch.batch_id, list(batch.records)))
        outbox.close()
    finally:
        journal.close()
    return asked.number


def test_staff_assign_and_cancel_from_the_queue(workbench, tmp_path):
    wb, server = workbench
    number = ask_at(tmp_path, wb.store, A)
    c = Client(server.url)
    assert c.sign_in("admin").status_code == 303
    page = c.get(f"/s/{A}/requests")
    assert page.status_code == 200 and number in page.text and "代购" in page.text
    row = hr.find(wb.engine, number, A)
    resp = c.post(f"/s/{A}/requests/{row['request_id']}/assign", {"volunteer": "v-wang"})
    assert resp.status_code == 303
    assert hr.find(wb.engine, number, A)["state"] == ASSIGNED
    assert "终端" in c.get(resp.headers["location"]).text             # saved; says when the kiosks see it
    resp = c.post(f"/s/{A}/requests/{row['request_id']}/cancel", {"reason": "bogus"})
    assert resp.status_code == 303 and hr.find(wb.engine, number, A)["state"] == ASSIGNED
    assert c.post(f"/s/{A}/requests/{row['request_id']}/cancel", {"reason": "no_volunteer"}).status_code == 303
    assert hr.find(wb.engine, number, A)["state"] == CANCELLED
    assert [e["action"] for e in entries(wb.engine) if e["target"] == row["request_id"]] == \
        ["request.cancel", "request.assign"]
    # Another station's page cannot act on this station's request.
    resp = c.post(f"/s/{B}/requests/{row['request_id']}/assign", {"volunteer": "v-li"})
    assert hr.find(wb.engine, number, A)["volunteer_id"] == "v-wang"
    assert resp.status_code in (303, 400, 403)
