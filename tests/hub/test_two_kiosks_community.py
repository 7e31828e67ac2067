"""Done-means test of the two-way station: two kiosks, one real Mosquitto, one hub process, staff by
the `yizhan hub` commands (the workbench pages are not there yet).

A resident asks for 代购 at A; staff assign a volunteer; the volunteer sees the task at B and marks
it done; the resident confirms and rates at A. A wish posted at A is claimed and fulfilled and the
resident sees it at A. An activity published at the hub is signed up for at A and B, attendance is
taken at A. The monthly report shows each exactly once, also after B resends everything.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

from hub.monthly import monthly_rows
from hub.store import HubStore
from hub.timebank import volunteer_balance
from kiosk.community.activities import Activities
from kiosk.community.kinds import ASAP, ASSIGNED, DONE
from kiosk.community.requests import Requests
from kiosk.community.wishes import FULFILLED, WISH, Wishes
from kiosk.documents import current_documents
from kiosk.journal import Journal
from sync.downlink import applied_versions
from tests.hub.test_two_kiosks_timebank import Station, hub_db, publish_roster  # noqa: F401  (fixture)
from tests.kiosk.test_volunteer import LI, RESIDENT, ROSTER, WANG, Clock
from tests.support.services import wait_for
from tests.sync.helpers import hub_rows


class Kiosk(Station):
    """A station with the community services over its journal and time bank."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.requests = Requests(self.journal, self.bank)
        clock = args[3]
        self.wishes = Wishes(self.journal, self.requests.hub_wishes, clock.now)
        self.activities = Activities(self.journal, lambda: current_documents(self.data_dir), clock.now)

    def has(self, doc_type: str, predicate=lambda: True, timeout: float = 20) -> bool:
        return wait_for(lambda: doc_type in applied_versions(self.data_dir) and predicate(), timeout, 0.05)


def yizhan_hub(db, port: int, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "app.cli", "hub", *args, "--db", str(db), "--host", "127.0.0.1",
                          "--port", str(port), "--signing-key", str(db.parent / "hub-signing.key")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_request_wish_and_activity_across_two_kiosks_counted_once(tmp_path, mosquitto, hub_db):
    clock = Clock(datetime.now(timezone.utc).replace(microsecond=0))
    began = clock.now()
    a = Kiosk(tmp_path, "st-a", mosquitto.port, clock).start()
    b = Kiosk(tmp_path, "st-b", mosquitto.port, clock).start()
    try:
        v = publish_roster(hub_db, mosquitto.host, mosquitto.port, ROSTER)
        assert a.has_roster(v) and b.has_roster(v)

        asked = a.requests.ask(RESIDENT, "visit-1", "purchase", ASAP)
        posted = a.wishes.post(RESIDENT, "visit-1", WISH, "class", "phone")
        assert a.drained(hub_db)
        yizhan_hub(hub_db, mosquitto.port, "requests", "assign", asked.number, "v-wang", "--station", "st-a")
        assert b.has("requests", lambda: b.requests.view(asked.request_id).state == ASSIGNED)
        mine, _free = b.requests.tasks(WANG)
        assert [t.number for t in mine] == [asked.number]
        b.requests.mark_done(WANG, asked.request_id)
        assert b.drained(hub_db)                         # the hub republishes the requests document itself
        assert a.has("requests", lambda: a.requests.view(asked.request_id).state == DONE)
        a.requests.confirm(asked.request_id, RESIDENT, 5)

        for step in (("publish",), ("claim", "--claimed-by", "张江科技公司", "--kind", "unit")):
            yizhan_hub(hub_db, mosquitto.port, "wishes", step[0], posted.wish_id, *step[1:], "--no-publish")
        yizhan_hub(hub_db, mosquitto.port, "wishes", "fulfil", posted.wish_id, "--note", "手机课 12月5日 开课")
        assert a.has("requests", lambda: a.wishes.mine(RESIDENT)[0].state == FULFILLED)

        start = clock.now() + timedelta(hours=2)
        calendar = tmp_path / "calendar.json"
        calendar.write_text('{"activities": [{"id": "talk", "title": "健康讲座", "place": "活动室", '
                            f'"start": "{start.isoformat()}", "end": "{(start + timedelta(hours=1)).isoformat()}", '
                            '"capacity": 30}]}', encoding="utf-8")
        yizhan_hub(hub_db, mosquitto.port, "calendar", "publish", str(calendar))
        assert a.has("calendar") and b.has("calendar")
        a.activities.sign_up(RESIDENT, "talk")
        b.activities.sign_up(LI, "talk")
        clock.advance(hours=2, minutes=5)
        a.activities.attend(RESIDENT, "talk")
        assert a.drained(hub_db) and b.drained(hub_db)
        assert a.has("requests", lambda: a.activities.upcoming()[0].taken == 2)   # seats pooled

        stored = len(hub_rows(hub_db))
        b.stop()
        with sqlite3.connect(b.data_dir / Journal.FILENAME) as con:     # B resends everything it ever sent
            con.execute("UPDATE outbox SET state = 'ready', batch_id = NULL")
        b = Kiosk(tmp_path, "st-b", mosquitto.port, clock).start()
        assert b.drained(hub_db)
        assert len(hub_rows(hub_db)) == stored
    finally:
        a.stop()
        b.stop()

    store = HubStore(str(hub_db))
    try:
        rows: Counter = Counter()
        for month in {t.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m") for t in (began, clock.now())}:
            rows.update({(s, c, i): v for s, c, i, v in monthly_rows(store.engine, month)})   # a run across midnight
    finally:
        store.close()
    assert rows[("全区", "四代服务", "代购：已确认")] == 1 and rows[("全区", "四代服务", "请求合计")] == 1
    assert rows[("全区", "服务评价", "非常满意")] == 1
    assert rows[("全区", "微心愿", "发布")] == 1 and rows[("全区", "微心愿", "已实现")] == 1
    assert rows[("全区", "近期活动", "报名")] == 2
    assert rows[("全区", "近期活动", "场次")] == 1 and rows[("全区", "近期活动", "人次")] == 1
    assert float(volunteer_balance(str(hub_db), "v-wang")) == 1.0
