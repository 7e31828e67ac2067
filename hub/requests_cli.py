"""``yizhan hub requests``: the service-request queue for staff (until the workbench page exists).

    yizhan hub requests [--station ST] [--all] [--json]       # the queue, priority first, overdue flagged
    yizhan hub requests assign 1130-03 v-wang [--station ST]  # assign a volunteer (by number or id)
    yizhan hub requests cancel 1130-03 --reason no_volunteer
    yizhan hub requests publish                               # send the requests document now
    yizhan hub wishes [--all]                                 # the wish board and suggestion box
    yizhan hub wishes publish|claim|fulfil|answer WISH_ID [--claimed-by 张江某公司 --kind unit] [--note …]
    yizhan hub calendar publish calendar.json                 # 近期活动 (no past or overlapping times)
    yizhan hub calendar counts --month 2026-11 [--station ST]  # 场次 and 人次

``assign``, ``cancel`` and ``publish`` publish the ``requests`` document to the kiosks (broker options
as for ``yizhan hub publish``); ``--no-publish`` only changes the database.
"""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hub import activities, requests, wishes
from hub.database import HubError
from hub.publishing import publish, publish_requests
from hub.store import HubStore
from kiosk.community.kinds import CANCEL_REASONS, CANCELLED, CONFIRMED
from sync.documents import DocumentKeyError, load_signing_key
from sync.messages import MessageError


def _options(p, broker_options) -> None:
    broker_options(p)
    p.add_argument("--signing-key", default=os.environ.get("YIZHAN_HUB_SIGNING_KEY", "hub-signing.key"),
                   help="the hub's document key (PEM, from yizhan hub keygen): kiosks refuse unsigned documents")

COMMANDS = ("requests", "wishes", "calendar")


def add_arguments(subparsers, broker_options, db_help: str) -> None:
    """Add ``requests`` to ``yizhan hub``'s sub-parsers."""
    p = subparsers.add_parser("requests", help="service requests: the queue, assign, cancel, publish")
    p.add_argument("action", nargs="?", default="list", choices=["list", "assign", "cancel", "publish"])
    p.add_argument("ref", nargs="?", default="", help="request number (e.g. 1130-03) or id")
    p.add_argument("volunteer", nargs="?", default="", help="volunteer id (assign)")
    p.add_argument("--station", default=None, help="one station")
    p.add_argument("--all", action="store_true", help="list confirmed and cancelled requests too")
    p.add_argument("--reason", default="staff", choices=list(CANCEL_REASONS), help="why it is cancelled")
    p.add_argument("--by", default=os.environ.get("USER", "staff"), help="who acts (kept with the event)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--no-publish", action="store_true", help="do not send the requests document")
    p.add_argument("--db", default="hub.sqlite3", help=db_help)
    _options(p, broker_options)
    p = subparsers.add_parser("wishes", help="微心愿 board and suggestions: list, publish, claim, fulfil, answer")
    p.add_argument("action", nargs="?", default="list", choices=["list", "publish", "claim", "fulfil", "answer"])
    p.add_argument("ref", nargs="?", default="", help="wish id")
    p.add_argument("--station", default=None, help="one station")
    p.add_argument("--all", action="store_true", help="list fulfilled and answered ones too")
    p.add_argument("--claimed-by", default="", help="who claims the wish (claim)")
    p.add_argument("--kind", default="donor", choices=list(wishes.CLAIMER_KINDS), help="donor, volunteer or unit")
    p.add_argument("--note", default="", help="what the resident reads (fulfil, answer)")
    p.add_argument("--by", default=os.environ.get("USER", "staff"), help="who acts")
    p.add_argument("--no-publish", action="store_true", help="do not send the requests document")
    p.add_argument("--db", default="hub.sqlite3", help=db_help)
    _options(p, broker_options)
    _add_calendar(subparsers, broker_options, db_help)


def _add_calendar(subparsers, broker_options, db_help: str) -> None:
    p = subparsers.add_parser("calendar", help="近期活动: publish the calendar, count 场次 and 人次")
    p.add_argument("action", choices=["publish", "counts"])
    p.add_argument("file", nargs="?", default="", help="JSON calendar body (publish)")
    p.add_argument("--month", default="", help="YYYY-MM (counts)")
    p.add_argument("--station", default=None, help="one station (counts)")
    p.add_argument("--db", default="hub.sqlite3", help=db_help)
    _options(p, broker_options)


def _calendar(args, store, hub_kwargs) -> int:
    if args.action == "counts":
        try:
            start = datetime.strptime(args.month, "%Y-%m").replace(tzinfo=timezone.utc)
        except ValueError:
            print("give --month YYYY-MM", file=sys.stderr)
            return 2
        end = (start + timedelta(days=32)).replace(day=1)
        print(json.dumps(activities.counts(store.engine, start.isoformat(), end.isoformat(), args.station)))
        return 0
    try:
        body = json.loads(Path(args.file).read_text(encoding="utf-8"))
        activities.check_new_calendar(body, store.published_body("calendar"))
        doc = publish(store, "calendar", body, signing_key=load_signing_key(args.signing_key), **hub_kwargs(args))
    except (OSError, ValueError, MessageError) as exc:
        print(f"not published: {exc}", file=sys.stderr)
        return 2
    except HubError as exc:
        print(f"stored the calendar but did not publish it: {exc}; run the command again", file=sys.stderr)
        return 1
    print(f"published calendar version {doc.version}")
    return 0


def _wishes(args, store) -> int | None:
    if args.action == "list":
        for w in wishes.board(store.engine, args.station, open_only=not args.all):
            print(f"{w['wish_id']}  {w['station']:<14} {w['kind']:<10} {w['category']:<12} {w['phrase']:<12} "
                  f"{w['state']:<10} {w['display_name']:<6} {w['claimed_by'] or '-'}  {w['note'] or ''}")
        return 0
    if not args.ref:
        print("name the wish (its id)", file=sys.stderr)
        return 2
    actions = {"publish": lambda: wishes.publish(store.engine, args.ref, args.by),
               "claim": lambda: wishes.claim(store.engine, args.ref, args.claimed_by, args.kind, args.by),
               "fulfil": lambda: wishes.fulfil(store.engine, args.ref, args.note, args.by),
               "answer": lambda: wishes.answer(store.engine, args.ref, args.note, args.by)}
    row = actions[args.action]()
    print(f"{row['wish_id']}: {row['state']}")
    return None


def _line(r: dict) -> str:
    flags = ("家属优先 " if r.get("family_priority") else "优先 " if r["priority"] else "") + \
        ("超时" if r.get("overdue") else "")
    return (f"{r['station']:<14} {r['number']:<8} {r['service_name']:<8} {r['state']:<10} "
            f"{r['volunteer_id'] or '-':<10} {r['when_label'] or '尽快':<18} {r['requested_at'][:16]:<16} {flags}")


def run(args, hub_kwargs) -> int:
    """Run ``yizhan hub requests …``; ``hub_kwargs(args)`` gives the broker settings."""
    store = HubStore(args.db)
    try:
        if args.hub_command == "calendar":
            return _calendar(args, store, hub_kwargs)
        if args.hub_command == "wishes":
            done = _wishes(args, store)
            if done is not None:
                return done
        elif args.action == "list":
            states = requests.OPEN_STATES + ((CONFIRMED, CANCELLED) if args.all else ())
            rows = requests.queue(store.engine, args.station, states)
            if args.json:
                print(json.dumps(rows, ensure_ascii=False, indent=1))
            else:
                print(f"{'station':<14} {'number':<8} {'service':<8} {'state':<10} {'volunteer':<10} "
                      f"{'when':<18} {'asked':<16} flags")
                for r in rows:
                    print(_line(r))
            return 0
        elif args.action in ("assign", "cancel"):
            if not args.ref:
                print("name the request (its number or id)", file=sys.stderr)
                return 2
            if args.action == "assign":
                row = requests.assign(store.engine, args.ref, args.volunteer, args.by, args.station)
            else:
                row = requests.cancel(store.engine, args.ref, args.reason, args.by, args.station)
            print(_line({**row, "overdue": requests.overdue(row, requests._now())}))
        if args.no_publish:
            return 0
        try:
            docs = publish_requests(store, signing_key=load_signing_key(args.signing_key), **hub_kwargs(args))
        except (HubError, DocumentKeyError) as exc:
            print(f"saved, but the requests document was not published: {exc}; run "
                  f"`yizhan hub requests publish`", file=sys.stderr)
            return 1
        versions = ", ".join(f"{d.scope}:{d.version}" for d in docs)
        print(f"published the requests document of each station ({versions or 'no station yet'})")
        return 0
    except (requests.RequestsError, wishes.WishError) as exc:
        print(f"not done: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
