"""``yizhan hub web`` (the staff workbench) and ``yizhan hub user add|passwd|disable|list``.

    yizhan hub web --db hub.sqlite3 --port 8080 --broker-port 1883
    yizhan hub web --tour tour/web           # screenshots of every page over demo data
    yizhan hub user add admin --role admin   # asks for the password (or $YIZHAN_USER_PASSWORD)
    yizhan hub user add wang --role staff --station sh-pd-zj-001

Passwords never come from the command line: from ``$YIZHAN_USER_PASSWORD`` or typed (twice).
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys

import uvicorn

from hub.credentials import mqtt_password
from hub.store import HubError, HubStore
from hub.web import accounts
from hub.web.server import forwarding
from hub.web.app import BrokerOptions, Workbench, create_app
from hub.web.tour import tour
from sync.documents import DocumentKeyError, load_signing_key

COMMANDS = ("web", "user")
DB_HELP = "SQLite file or SQLAlchemy URL (default hub.sqlite3)"


def add_arguments(subparsers) -> None:
    """Add ``web`` and ``user`` to ``yizhan hub``'s sub-parsers."""
    p = subparsers.add_parser("web", help="the staff workbench in the browser")
    p.add_argument("--db", default="hub.sqlite3", help=DB_HELP)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--broker-host", default="127.0.0.1", help="MQTT broker for publishing documents")
    p.add_argument("--broker-port", type=int, default=1883)
    p.add_argument("--base-topic", default="yizhan/v1")
    p.add_argument("--tls", action="store_true", help="broker over TLS")
    p.add_argument("--ca-file", default="")
    p.add_argument("--username", default="", help="broker user (password: $YIZHAN_MQTT_PASSWORD)")
    p.add_argument("--signing-key", default=os.environ.get("YIZHAN_HUB_SIGNING_KEY", ""),
                   help="the hub's document key (PEM, from yizhan hub keygen); without it nothing can be published")
    p.add_argument("--issuer", default="市民驿站", help="出具单位 on certificates")
    p.add_argument("--tz", default="Asia/Shanghai")
    p.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDRESS",
                   help="a reverse proxy whose X-Forwarded-For/-Proto headers are believed (repeatable); "
                        "default none: the client's own address counts, even from 127.0.0.1")
    p.add_argument("--insecure-cookies", action="store_true",
                   help="cookies without the Secure flag (plain http on a LAN address, not recommended)")
    p.add_argument("--tour", metavar="DIR", default=None,
                   help="write a screenshot of every page (over demo data, in headless Chromium) and exit")
    p = subparsers.add_parser("user", help="workbench accounts: add, passwd, disable, enable, unlock, list")
    p.add_argument("action", choices=["add", "passwd", "disable", "enable", "unlock", "list"])
    p.add_argument("username", nargs="?")
    p.add_argument("--role", choices=["staff", "care", "district", "admin"], default="staff")
    p.add_argument("--station", action="append", default=[], help="a station of a staff account (repeatable)")
    p.add_argument("--name", default="", help="display name")
    p.add_argument("--db", default="hub.sqlite3", help=DB_HELP)


def _password() -> str:
    env = os.environ.get("YIZHAN_USER_PASSWORD")
    if env:
        return env
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise SystemExit("the passwords differ")
    return first


def _user(args) -> int:
    engine = HubStore(args.db, name="user-cli").engine
    if args.action == "list":
        for u in accounts.list_users(engine):
            print(f"{u['username']:<16} {u['role']:<9} {'disabled' if u['disabled'] else 'active':<9} "
                  f"{u['stations'] or '*'}")
        return 0
    if not args.username:
        print("name the account", file=sys.stderr)
        return 2
    try:
        if args.action == "add":
            accounts.add_user(engine, args.username, _password(), args.role, args.station, args.name)
        elif args.action == "passwd":
            accounts.set_password(engine, args.username, _password())
        elif args.action == "unlock":
            accounts.unlock(engine, args.username)
        else:
            accounts.set_disabled(engine, args.username, args.action == "disable")
    except accounts.AccountError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{args.action}: {args.username}")
    return 0


def _web(args) -> int:
    if args.tour:
        for path in tour(args.tour):
            print(f"wrote {path}")
        return 0
    broker = BrokerOptions(host=args.broker_host, port=args.broker_port, base_topic=args.base_topic, tls=args.tls,
                           ca_file=args.ca_file, username=args.username,
                           password=mqtt_password())
    try:
        key = load_signing_key(args.signing_key) if args.signing_key else None
    except DocumentKeyError as exc:
        print(f"workbench not started: {exc}", file=sys.stderr)
        return 2
    wb = Workbench(db=args.db, broker=broker, issuer=args.issuer, tz=args.tz,
                   secure_cookies=not args.insecure_cookies, signing_key=key)
    print(f"workbench: http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(create_app(wb), host=args.host, port=args.port, log_level="warning",
                **forwarding(args.trusted_proxy))
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``web`` or ``user``."""
    try:
        return _web(args) if args.hub_command == "web" else _user(args)
    except HubError as exc:
        print(exc, file=sys.stderr)
        return 1
