"""``yizhan hub``: run a hub process, list stations, publish downlink documents, list dead letters.

    yizhan hub run --db hub.sqlite3 --host 127.0.0.1 --port 1883
    yizhan hub stations --db postgresql://hub@db/yizhan
    yizhan hub publish roster roster.json --station sh-pd-zj-001
    yizhan hub dead-letters [replay ID…]
    yizhan hub conflicts
    yizhan hub keygen --signing-key /etc/yizhan/hub-signing.key
    yizhan hub requests [assign|cancel|publish] …   (service requests, hub/requests_cli.py)
    yizhan hub migrate --db hub.sqlite3 [--check]
    yizhan hub web --db hub.sqlite3 --port 8080      # the staff workbench (hub/web/cli.py)

The broker password comes from ``YIZHAN_MQTT_PASSWORD``, never from the command line.
"""
from __future__ import annotations

import argparse
import json
import importlib
import logging
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from hub import fhir, reports_cli, requests_cli, schema
from hub.credentials import mqtt_password
from hub.database import HubError, make_engine
from hub.metrics import HubMetrics, parse_listen
from hub.publishing import publish
from hub.residents import ResidentError
from hub.timebank import engine_for
from hub.service import Hub
from hub.store import HubStore
from hub.web import cli as web_cli
from kiosk.journald import setup_journald
from kiosk.sdnotify import Watchdog
from sync.documents import DocumentKeyError, generate_signing_key, load_signing_key
from sync.messages import ALL_STATIONS, DOCUMENT_TYPES, MessageError


def _broker_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="MQTT broker host")
    p.add_argument("--port", type=int, default=1883, help="MQTT broker port")
    p.add_argument("--base-topic", default="yizhan/v1")
    p.add_argument("--tls", action="store_true", help="connect with TLS")
    p.add_argument("--ca-file", default="", help="CA certificate for TLS (default: system CAs)")
    p.add_argument("--username", default="", help="broker user (password: $YIZHAN_MQTT_PASSWORD)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of ``yizhan hub``."""
    sub = parser.add_subparsers(dest="hub_command", required=True, metavar="ACTION")
    db_help = "SQLite file or SQLAlchemy URL, e.g. postgresql://user@host/db (default hub.sqlite3)"
    p = sub.add_parser("run", help="receive records: validate, store, acknowledge")
    p.add_argument("--db", default="hub.sqlite3", help=db_help)
    p.add_argument("--name", default="", help="this process's name (default hub-<pid>)")
    p.add_argument("--share", default="hub", help="shared-subscription group of the hub processes")
    p.add_argument("--reconnect-max", type=float, default=30.0,
                   help="longest wait between reconnect attempts, seconds")
    p.add_argument("--metrics", metavar="[HOST:]PORT", default="",
                   help="serve Prometheus metrics on http://HOST:PORT/metrics (default host 127.0.0.1)")
    p.add_argument("--verbose", "-v", action="store_true")
    p.add_argument("--record-kinds", action="append", default=[], metavar="MODULE",
                   help="also accept the record kinds this module registers (e.g. app.bench.records for "
                        "`yizhan bench sync`); every kind is checked by its schema at the door")
    _signing_key_option(p)
    _broker_options(p)
    p = sub.add_parser("stations", help="list stations: status, last seen, queue depth")
    p.add_argument("--db", default="hub.sqlite3", help=db_help)
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("publish", help="publish a retained, versioned downlink document")
    p.add_argument("doc_type", choices=DOCUMENT_TYPES)
    p.add_argument("file", help="JSON file with the document body")
    p.add_argument("--station", default=None, help="one station (default: every station)")
    p.add_argument("--version", type=int, default=None, help="explicit version (default: the next one)")
    p.add_argument("--db", default="hub.sqlite3", help=db_help)
    _signing_key_option(p)
    _broker_options(p)
    p = sub.add_parser("keygen", help="create the hub's document signing key; prints the public key for kiosks")
    _signing_key_option(p)
    p = sub.add_parser("dead-letters", help="list messages the hub set aside, with the reason; replay ID… "
                                            "runs kept ones through the door again once the cause is fixed")
    p.add_argument("action", nargs="?", default="list", choices=["list", "replay"])
    p.add_argument("ids", nargs="*", type=int, metavar="ID", help="dead letters to replay")
    p.add_argument("--station", default=None, help="only this station's")
    p.add_argument("--db", default="hub.sqlite3", help=db_help)
    p = sub.add_parser("conflicts", help="records kept aside: same station and id as a stored record, other content")
    p.add_argument("--station", default=None, help="only this station's")
    p.add_argument("--db", default="hub.sqlite3", help=db_help)
    p = sub.add_parser("migrate", help="upgrade the hub database's schema to the newest revision (hub run does it "
                                       "at start when safe)")
    p.add_argument("--db", default="hub.sqlite3", help=db_help)
    p.add_argument("--check", action="store_true",
                   help="only say where the schema stands; exit 0 when current, 1 when an upgrade is due, "
                        "2 when this hub cannot upgrade it")
    p = sub.add_parser("export", help="export a resident's readings and referrals as a FHIR R4 Bundle (JSON)")
    p.add_argument("what", choices=["fhir"])
    p.add_argument("person_key", help="the resident's whole person key (64 hex digits)")
    p.add_argument("--db", default="hub.sqlite3", help=db_help)
    p.add_argument("--out", default="-", help="file to write (default: standard output)")
    reports_cli.add_arguments(sub)          # report, certificate, review
    web_cli.add_arguments(sub)              # web, user
    requests_cli.add_arguments(sub, _broker_options, db_help)   # requests, wishes, calendar


def _mqtt_password() -> str:
    """``$YIZHAN_MQTT_PASSWORD``, else the systemd credential ``mqtt_password`` (``LoadCredential=``)."""
    return mqtt_password()


def _signing_key_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--signing-key", default=os.environ.get("YIZHAN_HUB_SIGNING_KEY", "hub-signing.key"),
                   help="the hub's Ed25519 document key, PEM, mode 0600 (default $YIZHAN_HUB_SIGNING_KEY or "
                        "./hub-signing.key)")


def _hub_kwargs(args) -> dict:
    return dict(host=args.host, port=args.port, base_topic=args.base_topic, tls=args.tls, ca_file=args.ca_file,
                username=args.username, password=_mqtt_password())


def _run(args) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    name = args.name or f"hub-{os.getpid()}"
    for module in args.record_kinds:
        try:
            importlib.import_module(module)          # registers its @record_kind schemas
        except ImportError as exc:
            print(f"hub {name}: cannot load record kinds from {module}: {exc}", file=sys.stderr)
            return 2
    setup_journald(HUB=name)
    store = HubStore(args.db, name=name)
    metrics = HubMetrics(store)
    if args.metrics:
        try:
            host, port = parse_listen(args.metrics)
            server = metrics.serve(host, port)
        except (ValueError, OSError) as exc:
            print(f"hub {name}: cannot serve metrics on {args.metrics}: {exc}", file=sys.stderr)
            return 2
        print(f"hub {name}: metrics on http://{host}:{server.server_port}/metrics", flush=True)
    key = None
    if Path(args.signing_key).exists():     # signs the requests document kiosks follow (hub/requests.py)
        try:
            key = load_signing_key(args.signing_key)
        except DocumentKeyError as exc:
            print(f"hub {name}: {exc}", file=sys.stderr)
            return 2
    watchdog = Watchdog()
    hub = Hub(store, share=args.share, client_id=name, reconnect_max_s=args.reconnect_max, metrics=metrics,
              heartbeat=lambda: watchdog.beat("writer"), signing_key=key, **_hub_kwargs(args))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    hub.start()
    announced = False
    while not stop.wait(0.05):
        if not announced and hub.ready.is_set():
            print(f"hub {name}: ready on {args.host}:{args.port}", flush=True)
            watchdog.ready(f"connected to {args.host}:{args.port}")
            announced = True
        watchdog.tick()
    hub.stop()
    store.close()
    print(f"hub {name}: stopped after {store.handled} messages, {store.dead} dead letters", flush=True)
    return 0


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def _stations(args) -> int:
    rows = HubStore(args.db, migrate=False).stations()
    if args.json:
        print(json.dumps(rows, default=_fmt, ensure_ascii=False, indent=1))
        return 0
    print(f"{'station':<20} {'status':<8} {'last seen':<26} {'queue':>7} {'records':>8}  documents")
    for r in rows:
        docs = " ".join(f"{k}={v}" for k, v in sorted(r["documents"].items())) or "-"
        print(f"{r['station']:<20} {r['state']:<8} {_fmt(r['last_seen']):<26} {_fmt(r['queue_depth']):>7} "
              f"{r['records']:>8}  {docs}")
    return 0


def _publish(args) -> int:
    try:
        body = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        key = load_signing_key(args.signing_key)
    except DocumentKeyError as exc:
        print(f"not published: {exc}", file=sys.stderr)
        return 2
    try:
        doc = publish(HubStore(args.db), args.doc_type, body, args.station or ALL_STATIONS, args.version,
                      signing_key=key, **_hub_kwargs(args))
    except MessageError as exc:
        print(f"not published: {exc}", file=sys.stderr)
        return 2
    except HubError as exc:
        print(f"stored but not published: {exc}; run the command again", file=sys.stderr)
        return 1
    print(f"published {doc.type} version {doc.version} for {doc.scope}")
    return 0


def _dead_letters(args) -> int:
    if args.action == "replay":
        if not args.ids:
            print("name the dead letters to replay: yizhan hub dead-letters replay ID…", file=sys.stderr)
            return 2
        store, failed = HubStore(args.db), 0
        for ident in args.ids:
            try:
                print(store.replay(ident))
            except HubError as exc:
                print(exc, file=sys.stderr)
                failed += 1
        return 1 if failed else 0
    for row in HubStore(args.db, migrate=False).dead_letters(args.station):
        kept = "kept" if row["kept"] else "digest only"
        replayed = f"  replayed {_fmt(row['replayed_at'])}" if row["replayed_at"] else ""
        print(f"{row['id']:>6} {_fmt(row['received_at'])} {row['station'] or '-':<16} {row['size']:>8} B "
              f"x{row['count']:<3} {kept:<11} {row['reason']}{replayed}")
    return 0


def _conflicts(args) -> int:
    rows = HubStore(args.db, migrate=False).conflicts(args.station)
    for row in rows:
        print(f"{row['id']:>6} {_fmt(row['received_at'])} {row['station']:<16} {row['record_id']:<40} {row['kind']:<20} "
              f"new {row['digest'][:12]} stored {row['stored_digest'][:12]}")
    if not rows:
        print("no conflicts")
    return 0


def _keygen(args) -> int:
    try:
        public = generate_signing_key(args.signing_key)
    except DocumentKeyError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"created {args.signing_key} (keep it on the hub, mode 0600). Every kiosk's settings need:")
    print(f'[sync]\ndocument_public_key = "{public}"')
    return 0


def _migrate(args) -> int:
    engine = make_engine(args.db)
    try:
        if args.check:
            now = schema.state(engine)
            print(f"hub database: {now.describe()}")
            return 0 if now.state == schema.CURRENT else 1 if now.upgradable else 2
        try:
            before, after = schema.upgrade(engine)
        except schema.SchemaError as exc:
            print(f"not migrated: {exc}", file=sys.stderr)
            return 2
        except SQLAlchemyError as exc:
            raise HubError(f"cannot migrate the hub database: {exc}") from exc
        if before.state == schema.CURRENT:
            print(f"hub database already at revision {after.revision}")
        elif before.state == schema.PRE_MIGRATION:
            print(f"hub database made before migrations: stamped at {schema.BASELINE}, now at {after.revision}")
        else:
            print(f"hub database upgraded from {before.revision or 'nothing'} to {after.revision}")
        return 0
    finally:
        engine.dispose()


def _export(args) -> int:
    engine = engine_for(args.db)
    try:
        text = json.dumps(fhir.bundle(engine, args.person_key), ensure_ascii=False, indent=1)
    except ResidentError as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch ``yizhan hub <action>``."""
    if args.hub_command in reports_cli.COMMANDS:
        return reports_cli.run(args)
    if args.hub_command in web_cli.COMMANDS:
        return web_cli.run(args)
    if args.hub_command in requests_cli.COMMANDS:
        return requests_cli.run(args, _hub_kwargs)
    actions = {"run": _run, "stations": _stations, "publish": _publish, "dead-letters": _dead_letters,
               "conflicts": _conflicts, "keygen": _keygen, "migrate": _migrate, "export": _export}
    try:
        return actions[args.hub_command](args)
    except HubError as exc:
        print(exc, file=sys.stderr)
        return 1
