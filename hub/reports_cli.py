"""``yizhan hub report|certificate|review``: time-bank reports, certificates and shift reviews.

    yizhan hub report volunteers --month 2025-05 --format xlsx --db hub.sqlite3
    yizhan hub report monthly --month 2025-05 --format pdf    # the street office's monthly report
    yizhan hub certificate v-wang --format pdf --issuer "浦东新区张江镇市民驿站"
    yizhan hub review                       # list shifts auto-closed at the cut-off
    yizhan hub review RECORD_ID --hours 2   # credit one of them
    yizhan hub review RECORD_ID --reject "not on duty that evening"

Wiring: ``add_arguments(subparsers)`` adds the sub-commands to ``yizhan hub``'s sub-parsers;
``run(args)`` handles them (``args.hub_command`` is ``report``, ``certificate`` or ``review``).
"""
from __future__ import annotations

import argparse
import sys
from datetime import date

from hub.database import HubError
from hub.monthly import monthly_report
from hub.reports import ReportError, certificate, report_volunteers
from hub.reviews import pending_reviews, reject_shift
from hub.timebank import TimebankError, review_shift

COMMANDS = ("report", "certificate", "review")
DB_HELP = "SQLite file or SQLAlchemy URL (default hub.sqlite3)"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def add_arguments(subparsers) -> None:
    """Add ``report``, ``certificate`` and ``review`` to ``yizhan hub``'s sub-parsers."""
    p = subparsers.add_parser("report", help="monthly volunteer hours, services and ratings (CSV or XLSX), or the "
                                             "street office's monthly report (monthly: CSV, XLSX or PDF)")
    p.add_argument("what", choices=["volunteers", "monthly"])
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--format", choices=["csv", "xlsx", "pdf"], default="csv")
    p.add_argument("--out", default=None, help="output file (default <what>-<month>.<format>)")
    p.add_argument("--db", default="hub.sqlite3", help=DB_HELP)
    p.add_argument("--tz", default="Asia/Shanghai", help="time zone of the month")
    p = subparsers.add_parser("certificate", help="志愿服务证明 for one volunteer (PDF or text)")
    p.add_argument("volunteer", help="volunteer id")
    p.add_argument("--format", choices=["pdf", "txt"], default="pdf")
    p.add_argument("--out", default=None, help="output file (default certificate-<volunteer>.<format>)")
    p.add_argument("--issuer", required=True, help="issuing organisation (出具单位)")
    p.add_argument("--organisation", default="", help="the volunteer's organisation (default issuer + team)")
    p.add_argument("--from", dest="period_from", type=_date, default=None, help="first day (YYYY-MM-DD)")
    p.add_argument("--to", dest="period_to", type=_date, default=None, help="last day (YYYY-MM-DD)")
    p.add_argument("--db", default="hub.sqlite3", help=DB_HELP)
    p.add_argument("--tz", default="Asia/Shanghai")
    p = subparsers.add_parser("review", help="list shifts that need review, or credit one")
    p.add_argument("record_id", nargs="?", help="the check-out record to credit")
    p.add_argument("--hours", type=float, default=None, help="hours to credit (default the proposed hours)")
    p.add_argument("--reject", metavar="REASON", default=None, help="do not credit the shift, for this reason")
    p.add_argument("--reviewer", default="")
    p.add_argument("--db", default="hub.sqlite3", help=DB_HELP)


def run(args: argparse.Namespace) -> int:
    """Run one of the sub-commands; 0 on success, 1 for a refused request, 2 for bad input."""
    try:
        if args.hub_command == "report" and args.what == "monthly":
            path = monthly_report(args.db, args.month, args.format, args.out, tz=args.tz)
            print(f"wrote {path}")
        elif args.hub_command == "report":
            path = report_volunteers(args.db, args.month, args.format, args.out, tz=args.tz)
            print(f"wrote {path}")
        elif args.hub_command == "certificate":
            path = certificate(args.db, args.volunteer, args.format, args.out, issuer=args.issuer,
                               organisation=args.organisation, period_from=args.period_from,
                               period_to=args.period_to, tz=args.tz)
            print(f"wrote {path}")
        elif args.record_id and args.reject is not None:
            station = next((r["station"] for r in pending_reviews(args.db) if r["record_id"] == args.record_id), "")
            reject_shift(args.db, station, args.record_id, args.reject, args.reviewer or "cli")
            print(f"not credited: {args.record_id} ({args.reject})")
        elif args.record_id:
            mv = review_shift(args.db, args.record_id, args.hours, args.reviewer)
            print(f"credited {mv.hours} h to {mv.credit} (movement {mv.movement_id})")
        else:
            rows = pending_reviews(args.db)
            if not rows:
                print("Nothing to review: no shift closed at the cut-off is waiting for hours.")
            for row in rows:
                print(f"{row['record_id']}  {row['station']:<14} {row['volunteer_id']:<16} "
                      f"{row['since'][:16]} → {row['until'][:16]}  proposed {row['proposed_hours']} h")
    except ReportError as exc:
        print(exc, file=sys.stderr)
        return 2
    except (TimebankError, HubError) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0
