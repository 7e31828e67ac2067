"""The demo hub's documents, published retained at every demo start so a newcomer sees every tile
working at once: the roster (the workbench's demo volunteers and the kiosk's own demo volunteer),
the calendar, the catalog with its announcement and this station's information (opening hours,
windows, the affairs guide, the canteen). A kiosk that connects later gets them from the broker
(retained messages), so nothing waits for a clerk to publish something new.

Run by :func:`app.demo_hub.start_demo_services` in the background::

    python -m app.demo_documents --db HUB.sqlite3 --host H --port P --signing-key KEY --station ST
        [--local-roster KIOSK_DATA/roster.json]
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from hub.publishing import current, publish
from hub.store import HubStore
from sync.documents import load_signing_key
from sync.messages import ALL_STATIONS

log = logging.getLogger(__name__)

DEMO_TEAMS = [{"id": "orange", "name": "暖心橙"}, {"id": "red", "name": "党旗红"}, {"id": "blue", "name": "守护蓝"},
              {"id": "green", "name": "生态绿"}, {"id": "purple", "name": "文艺紫"}]
#: The catalog when the hub has none (the workbench's demo day has its own, with an announcement).
DEMO_CATALOG = {"services": [{"id": "errand", "name": "代办"}, {"id": "purchase", "name": "代购"},
                             {"id": "duty", "name": "驿站值班"}, {"id": "health_day", "name": "健康筛查日协助"}],
                "announcements": [{"id": "a1", "text": "本周六上午九点健康讲座"}]}
#: The demo station's information tabs (驿站信息), filled in.
DEMO_INFO = {
    "hours": [{"days": "周一至周五", "time": "08:30-17:00"}, {"days": "周六", "time": "09:00-12:00"}],
    "windows": [{"name": "1号窗口", "does": "社保、医保"}, {"name": "2号窗口", "does": "居住证、民政"},
                {"name": "3号窗口", "does": "残联、退役军人服务"}],
    "guide": [{"name": "老年人综合津贴", "how": "on_the_spot", "bring": ["身份证", "银行卡"]},
              {"name": "居住证办理", "how": "accepted", "bring": ["身份证", "租房合同", "照片"]},
              {"name": "医保卡补办", "how": "accepted", "bring": ["身份证"]}],
    "canteen": {"hours": "11:00-13:00",
                "menu": {str(d): dishes for d, dishes in enumerate(
                    (["红烧肉", "清炒时蔬", "番茄蛋汤"], ["清蒸鱼", "炒青菜", "紫菜汤"], ["土豆牛肉", "香菇青菜", "冬瓜汤"],
                     ["白切鸡", "炒豆芽", "萝卜汤"], ["糖醋排骨", "炒菠菜", "玉米汤"], ["肉末豆腐", "炒白菜", "蛋花汤"],
                     ["红烧鸡块", "炒西兰花", "丝瓜汤"]), 1)}},
}


def demo_roster(store: HubStore, local_roster: Path | None) -> dict[str, Any]:
    """The hub's published volunteers plus the kiosk's own demo volunteers (same card and key, so the
    kiosk keeps recognising them), with the five teams' names."""
    published = current(store, "roster")
    body = published[1] if published else {}
    volunteers = [{k: v for k, v in p.items() if k != "balance"} for p in body.get("volunteers", [])
                  if isinstance(p, dict)]
    teams = {t["id"]: t for t in DEMO_TEAMS}
    if local_roster is not None and local_roster.exists():
        local = json.loads(local_roster.read_text(encoding="utf-8"))
        known = {v["id"] for v in volunteers}
        volunteers += [v for v in local.get("volunteers", []) if isinstance(v, dict) and v.get("id") not in known]
        teams.update({t["id"]: t for t in local.get("teams", []) if isinstance(t, dict) and t.get("id")})
    return {"teams": list(teams.values()), "volunteers": volunteers}


def documents(store: HubStore, station: str, local_roster: Path | None) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, scope, body) of every document the demo publishes at start."""
    out = [("roster", ALL_STATIONS, demo_roster(store, local_roster))]
    calendar = current(store, "calendar")
    if calendar:
        out.append(("calendar", ALL_STATIONS, calendar[1]))
    catalog = current(store, "catalog")
    out.append(("catalog", ALL_STATIONS, catalog[1] if catalog else DEMO_CATALOG))
    config = current(store, "config", station)
    body = dict(config[1]) if config else {}
    body.setdefault("info", DEMO_INFO)
    out.append(("config", station, body))
    return out


def main(argv: list[str] | None = None) -> int:
    """Publish the demo's documents; 0 when every one was confirmed by the broker."""
    p = argparse.ArgumentParser(prog="python -m app.demo_documents")
    p.add_argument("--db", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--signing-key", required=True)
    p.add_argument("--station", required=True)
    p.add_argument("--local-roster", type=Path)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    store = HubStore(args.db, name="demo-documents")
    failed = 0
    try:
        key = load_signing_key(args.signing_key)
        for doc_type, scope, body in documents(store, args.station, args.local_roster):
            try:
                doc = publish(store, doc_type, body, scope, signing_key=key, host=args.host, port=args.port)
                log.info("published %s for %s, version %s", doc_type, scope, doc.version)
            except Exception as exc:       # one refused document must not keep the others back
                failed += 1
                log.error("demo %s for %s not published: %s", doc_type, scope, exc)
    finally:
        store.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
