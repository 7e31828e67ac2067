"""The kiosk with a real local broker and hub: records journaled on screen reach the hub once, and
the header and admin screen show the link's state."""
from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from kiosk.records import Visit
from kiosk.settings import load_settings


@pytest.fixture()
def online(tmp_path):
    from app.kiosk_app import HeadlessShell, start_sync
    from kiosk.context import build_context
    from app.demo_hub import start_demo_services

    services = start_demo_services(tmp_path / "hub", web=False)      # the workbench would seed demo records
    assert services is not None, "mosquitto is installed by make test's set-up"
    settings = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(tmp_path / "data")})
    settings = dataclasses.replace(settings, sync=dataclasses.replace(settings.sync, enabled=True,
                                                                      host=services.host, port=services.port,
                                                                      ack_timeout_s=2.0))
    ctx = build_context(settings)
    h = HeadlessShell(ctx)
    start_sync(ctx)
    yield h, services
    h.close()
    ctx.close()
    services.stop()


def hub_count(services) -> int:
    db = sqlite3.connect(services.db_path)
    try:
        return db.execute("SELECT count(*) FROM hub_records").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def test_records_reach_the_hub_and_the_header_says_online(online):
    h, services = online
    publisher = h.ctx.services["publisher"]
    assert h.pump_until(lambda: publisher.status().connected, 15)
    h.shell.tick()
    assert h.shell.sync_online and h.shell.sync_text == "已联网"
    for i in range(5):
        h.ctx.journal.append(Visit(person_key=f"{i:064x}", source="demo", role="resident"))
    assert h.pump_until(lambda: hub_count(services) == 5 and publisher.status().queue_depth == 0, 15)
    h.shell.go("admin")
    text = h.screen("admin").sync_text
    assert "已连接" in text and "待上传 0 条" in text


def test_broker_down_shows_offline_with_the_queue_then_drains(online):
    h, services = online
    publisher = h.ctx.services["publisher"]
    assert h.pump_until(lambda: publisher.status().connected, 15)
    services.broker.stop()
    assert h.pump_until(lambda: not publisher.status().connected, 15)
    h.ctx.journal.append(Visit(person_key="ab" * 32, source="demo", role="resident"))
    assert h.pump_until(lambda: publisher.status().queue_depth == 1, 10)   # the publisher counts on its thread
    h.shell.tick()
    assert not h.shell.sync_online and "离线" in h.shell.sync_text and "1" in h.shell.sync_text
    services.broker.start()
    assert h.pump_until(lambda: hub_count(services) == 1, 30)


def test_a_record_the_hub_refuses_stays_and_shows_in_the_header_and_on_the_admin_screen(online):
    from kiosk.privacy import id_check_char
    from kiosk.records import AdminEvent
    h, services = online
    publisher = h.ctx.services["publisher"]
    assert h.pump_until(lambda: publisher.status().connected, 15)
    first = "31010419500101123"
    spaced = f"{first[:6]} {first[6:14]} {first[14:]}{id_check_char(first)}"   # passes the journal, not the hub
    h.ctx.journal.append(AdminEvent(action="note", detail=spaced))
    h.ctx.journal.append(Visit(person_key="f" * 64, source="demo", role="resident"))
    assert h.pump_until(lambda: publisher.status().rejected == 1 and hub_count(services) == 1, 15)
    h.shell.tick()
    assert h.shell.sync_text == "中心拒收了 1 条记录，请联系管理员"
    assert h.ctx.journal.pending_count() == 1                       # kept, not marked synced
    h.shell.go("admin")
    assert "中心拒收 1 条记录" in h.screen("admin").sync_text
