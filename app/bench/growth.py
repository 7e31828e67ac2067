"""``yizhan bench growth``: do costs follow today's work or the whole history?

Hub: ``report volunteers --month M`` over 10⁴, 10⁵, 10⁶ time-bank records of earlier months (plus
one month of about 4,500), its time and peak RSS measured in a child process (the child's own
high-water mark), and the roster-with-balances and ``hub stations`` queries beside it. The hub also
holds as many health records (visits, consents, readings of 50,000 residents): the workbench's
resident search and a resident's page are timed for one resident whose records are the same at
every size, and so is the screening fold of that resident with the care worklist (``care_ms``:
what storing one new reading of theirs adds inside the batch's transaction, plus the worklist read).

Kiosk: on journals of 10⁴, 10⁵, 10⁶ records holding 10³ or 10⁴ volunteer shifts — identification
to the consent, roster and trend lookups (``identify_ms``; ``identify_with_visit_ms`` adds journalling
the visit, one committed append whose disk sync is flat by design but noisy on a shared disk), a
volunteer tap to the status, the cut-off sweep of open shifts,
and opening the journal (the part of the first frame that grows with the file; the Kivy window
itself does not depend on the journal and a full start per size would cost minutes of the shared
machine, so it is not repeated here — ``yizhan bench startup`` measures it).

Data is synthetic but has the real record kinds and payloads, written in bulk. Prints one JSON
object with ``targets``, each with ``met`` true or false.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.bench.history import REGULAR, JournalFiller, fill_hub, key_of
from hub import care
from hub.database import make_engine
from hub.ledger import rebuild
from hub.store import HubStore
from kiosk.health_records import recent_measurements
from kiosk.identity import IdentityService
from kiosk.journal import Journal
from kiosk.session import Person
from kiosk.settings import load_settings
from kiosk.timebank.service import TimeBank
from kiosk.timebank.catalog import load_roster
from kiosk.tokens import issue_token
from sync.documents import encode_document, make_document, public_key_hex, sign_document
from sync.downlink import DownlinkStore
from sync.messages import ALL_STATIONS

MONTH = "2026-10"
STATION = "bench-001"
REPORT_MAX_S = 3.0
REPORT_MAX_MB = 150.0
FLAT_MAX_RATIO = 1.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan bench growth``."""
    parser.add_argument("--hub-sizes", default="10000,100000,1000000",
                        help="time-bank records of history at the hub (comma-separated)")
    parser.add_argument("--kiosk-sizes", default="10000,100000,1000000", help="journal sizes (comma-separated)")
    parser.add_argument("--shifts", default="1000,10000", help="volunteer shifts in the journal (comma-separated)")
    parser.add_argument("--skip-hub", action="store_true", help="measure only the kiosk")
    parser.add_argument("--skip-kiosk", action="store_true", help="measure only the hub")
    parser.add_argument("--workdir", help="where to build the data (default a temporary directory, removed)")


def _ints(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def _timed_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(fastest, median) of ``repeat`` calls in ms. The fastest is the cost itself; on a shared machine
    the median also carries other processes' disk syncs and CPU, so the targets use the fastest."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(min(times), 2), round(statistics.median(times), 2)


# --- hub --------------------------------------------------------------------------------------------------

def _spawn(code: str) -> tuple[dict, float]:
    """Run Python code in a child process; the JSON object it printed last, and its peak RSS in MB.

    The peak is the child's own ``VmHWM`` (its address space's high-water mark, which starts afresh
    at exec). ``getrusage`` of the reaped child would also count the parent's pages the child
    shared between fork and exec, i.e. the size of this benchmark process, not of the report.
    """
    flags = ["-S"] if sys.flags.no_site else []         # a child imports from where this process does
    proc = subprocess.run([sys.executable, *flags, "-c", code + _PEAK], capture_output=True, text=True,
                          cwd=str(Path(__file__).resolve().parents[2]))
    if proc.returncode:
        raise RuntimeError(f"child failed: {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out, round(out.pop("peak_kb") / 1024, 1)


_PEAK = """
import json as _json, resource as _resource
def _peak_kb():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
print(_json.dumps({**RESULT, "peak_kb": _peak_kb()}))
"""


_REPORT = """
import io, time
from hub.reports import report_volunteers
buf = io.BytesIO()
t1 = time.perf_counter()
report_volunteers({db!r}, {month!r}, "csv", buf)
RESULT = {{"seconds": time.perf_counter() - t1, "bytes": len(buf.getvalue()),
          "rows": buf.getvalue().count(b"\\n") - 1}}
"""

_ROSTER = """
import time
from hub.timebank import roster_with_balances
t0 = time.perf_counter()
body = roster_with_balances({db!r}, {{"volunteers": []}})
RESULT = {{"seconds": time.perf_counter() - t0, "volunteers": len(body["volunteers"])}}
"""

_STATIONS = """
import time
from hub.store import HubStore
store = HubStore({db!r})
t0 = time.perf_counter()
rows = store.stations()
RESULT = {{"seconds": time.perf_counter() - t0, "stations": len(rows)}}
"""


_RESIDENT = """
import time
from sqlalchemy import create_engine
from hub import residents
engine = create_engine("sqlite:///{db}")
times = []
for _ in range(5):
    t0 = time.perf_counter()
    found = residents.find(engine, {key!r}[:8], None)
    page = residents.history(engine, {key!r}, None)
    times.append(time.perf_counter() - t0)
RESULT = {{"seconds": sorted(times)[2], "found": len(found), "records": len(page)}}
"""


_CARE = """
import time
from datetime import date
from sqlalchemy import create_engine
from hub import care
engine = create_engine("sqlite:///{db}")
times = []
for _ in range(5):
    t0 = time.perf_counter()
    with engine.connect() as conn:                 # the store folds inside its own batch's transaction:
        trans = conn.begin()                       # its disk sync is the batch's, not measured here
        care.refresh(conn, [{key!r}])
        trans.rollback()
    work = care.worklist(engine, None, date(2026, 10, 31))
    times.append(time.perf_counter() - t0)
RESULT = {{"seconds": sorted(times)[2], "worklist": len(work)}}
"""


def _prepare_care(db: Path) -> float:
    """Fold every resident's screening status (migration 0010 does it once); seconds taken."""
    t0 = time.perf_counter()
    engine = make_engine(str(db))
    try:
        with engine.begin() as conn:
            care.rebuild_in(conn)
    finally:
        engine.dispose()
    return round(time.perf_counter() - t0, 2)


def _prepare_hub(db: Path) -> float:
    """Build the maintained tables (time bank, person index) from the bulk-written records, as
    migrations 0006 and 0008 do; seconds taken."""
    t0 = time.perf_counter()
    engine = make_engine(str(db))
    try:
        rebuild(engine)
    finally:
        engine.dispose()
    return round(time.perf_counter() - t0, 2)


def hub_case(history: int, workdir: Path) -> dict:
    """Fill a hub with ``history`` older time-bank records and measure report, roster and stations."""
    db = workdir / f"hub-{history}.sqlite3"
    HubStore(str(db)).close()
    start = datetime.strptime(MONTH, "%Y-%m").replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    t0 = time.perf_counter()
    counts = fill_hub(db, history, start, health=history)
    fill_s = round(time.perf_counter() - t0, 1)
    index_s = _prepare_hub(db)
    care_index_s = _prepare_care(db)
    report, report_rss = _spawn(_REPORT.format(db=str(db), month=MONTH))
    roster, roster_rss = _spawn(_ROSTER.format(db=str(db)))
    stations, _rss = _spawn(_STATIONS.format(db=str(db)))
    resident, _rss = _spawn(_RESIDENT.format(db=str(db), key=REGULAR))
    screening, _rss = _spawn(_CARE.format(db=str(db), key=REGULAR))
    return {"history_records": history, "records": sum(counts.values()), "fill_s": fill_s, "index_s": index_s,
            "report_s": round(report["seconds"], 3), "report_peak_rss_mb": report_rss, "report_rows": report["rows"],
            "roster_s": round(roster["seconds"], 3), "roster_peak_rss_mb": roster_rss,
            "stations_ms": round(stations["seconds"] * 1000, 2),
            "resident_ms": round(resident["seconds"] * 1000, 2), "resident_found": resident["found"],
            "resident_records": resident["records"], "care_index_s": care_index_s,
            "care_ms": round(screening["seconds"] * 1000, 2), "care_worklist": screening["worklist"]}


# --- kiosk ------------------------------------------------------------------------------------------------

def kiosk_figures(data: Path, path: Path, now: datetime) -> dict:
    """The per-identification, per-tap, sweep and journal-open costs on one journal."""
    settings = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(data), "YIZHAN_STATION_ID": STATION})
    open_ms = _timed_ms(lambda: Journal(path, STATION).close(), 9)
    resident = REGULAR
    with Journal(path, STATION) as journal:
        key = settings.secrets.district_key
        identity = IdentityService(key, journal, roster=lambda: load_roster(data, journal))
        token = issue_token(key, "resident", resident, 3600, STATION)

        def identify() -> None:
            identity.from_token(token)
            recent_measurements(journal, resident, "bp")
            recent_measurements(journal, resident, "glucose")

        def lookups() -> None:
            identity.consent_status(resident)
            load_roster(data, journal).by_person_key(resident)
            recent_measurements(journal, resident, "bp")
            recent_measurements(journal, resident, "glucose")
        commit_ms = _timed_ms(identify, 9)
        identify_ms = _timed_ms(lookups, 9)
        _hub_roster(data, journal, now)
        bank = TimeBank(journal, settings, station_id=STATION, data_dir=data, clock=lambda: now)
        volunteer = Person(role="volunteer", person_key=key_of("volunteer-V0001"), display_name="",
                           volunteer_id="V0001", source="pcsc")

        def tap() -> None:
            bank.tap(volunteer)
            bank.status(volunteer)
        tap_ms = _timed_ms(tap, 9)
        sweep_ms = _timed_ms(lambda: bank.auto_close_open_shifts(now), 5)
    return {"identify_ms": identify_ms[0], "tap_status_ms": tap_ms[0], "sweep_ms": sweep_ms[0],
            "journal_open_ms": open_ms[0], "identify_with_visit_ms": commit_ms[0],
            "median_ms": {"identify": identify_ms[1], "tap_status": tap_ms[1], "sweep": sweep_ms[1],
                          "journal_open": open_ms[1], "identify_with_visit": commit_ms[1]}}


#: The benchmark's own hub signing key and roster version counter (documents are signed and versioned).
_HUB_KEY = Ed25519PrivateKey.generate()
_ROSTER_VERSION = [0]


def _hub_roster(data: Path, journal: Journal, now: datetime) -> None:
    """Apply the roster a hub would have published by now: V0001's balance through the journal's last record.

    A station's volunteer page adds to the hub's balance only the movements the hub had not counted;
    without a roster every movement ever would count as uncounted, which no synced station sees.
    """
    account = "volunteer:V0001"
    hours = sum(r.payload.hours for r in journal.each("ledger_movement", where={"credit": account})) - \
        sum(r.payload.hours for r in journal.each("ledger_movement", where={"debit": account}))
    through = journal.last_seq(("ledger_movement", "volunteer_check_in", "volunteer_check_out", "visit"))
    body = {"volunteers": [{"id": "V0001", "name": "王小明", "teams": ["red"], "person_key": key_of("volunteer-V0001"),
                            "balance": {"hours": hours, "as_of": now.isoformat(timespec="seconds"),
                                        "month": now.strftime("%Y-%m"), "month_hours": 0.0,
                                        "through": {STATION: through}, "counted": []}}]}
    _ROSTER_VERSION[0] += 1
    doc = make_document("roster", _ROSTER_VERSION[0], ALL_STATIONS, now.isoformat(timespec="milliseconds"), body)
    result = DownlinkStore(data, STATION, public_key_hex(_HUB_KEY)).apply(
        "roster", ALL_STATIONS, encode_document(sign_document(doc, _HUB_KEY)))
    if not result.applied:
        raise RuntimeError(f"the benchmark's hub roster was refused: {result}")


def kiosk_cases(sizes: list[int], shifts: list[int], workdir: Path) -> list[dict]:
    """Grow one journal per shift count through the sizes; measure at each size."""
    out = []
    now = datetime.now(timezone.utc)
    for s in shifts:
        data = workdir / f"kiosk-{s}"
        data.mkdir(parents=True, exist_ok=True)
        path = data / Journal.FILENAME
        Journal(path, STATION).close()
        filler = JournalFiller(path, STATION)
        for n in sizes:
            if 3 * s > n:
                continue
            t0 = time.perf_counter()
            filler.grow(n, s, now - timedelta(days=1))
            fill_s = round(time.perf_counter() - t0, 1)
            out.append(_progress({"records": filler.records, "shifts": filler.shifts, "fill_s": fill_s,
                                  **kiosk_figures(data, path, now)}))
    return out


def _progress(case: dict) -> dict:
    """Show each measured case on stderr as it completes (the JSON result comes at the end)."""
    print(json.dumps(case, ensure_ascii=False), file=sys.stderr, flush=True)
    return case


# --- targets ----------------------------------------------------------------------------------------------

def targets(hub: list[dict], kiosk: list[dict]) -> list[dict]:
    """Each goal with the measured value and whether it was met."""
    out = []
    if hub:
        big = max(hub, key=lambda h: h["history_records"])
        out.append({"name": f"hub report at {big['history_records']} records", "value": big["report_s"],
                    "limit": REPORT_MAX_S, "unit": "s", "met": big["report_s"] <= REPORT_MAX_S})
        out.append({"name": f"hub report peak RSS at {big['history_records']} records",
                    "value": big["report_peak_rss_mb"], "limit": REPORT_MAX_MB, "unit": "MB",
                    "met": big["report_peak_rss_mb"] <= REPORT_MAX_MB})
    if len(hub) > 1:
        small = min(hub, key=lambda h: h["history_records"])["resident_ms"]
        ratio = round(big["resident_ms"] / small, 2) if small > 0 else float("inf")
        out.append({"name": "hub resident search and page largest/smallest", "value": ratio,
                    "limit": FLAT_MAX_RATIO, "unit": "x", "met": ratio <= FLAT_MAX_RATIO})
        small = min(hub, key=lambda h: h["history_records"])["care_ms"]
        ratio = round(big["care_ms"] / small, 2) if small > 0 else float("inf")
        out.append({"name": "hub screening fold of one resident and the worklist largest/smallest", "value": ratio,
                    "limit": FLAT_MAX_RATIO, "unit": "x", "met": ratio <= FLAT_MAX_RATIO})
    if len(kiosk) > 1:
        for figure in ("identify_ms", "tap_status_ms", "sweep_ms", "journal_open_ms"):
            small = min(kiosk, key=lambda k: (k["records"], k["shifts"]))[figure]
            large = max(kiosk, key=lambda k: (k["records"], k["shifts"]))[figure]
            ratio = round(large / small, 2) if small > 0 else float("inf")
            out.append({"name": f"kiosk {figure} largest/smallest", "value": ratio, "limit": FLAT_MAX_RATIO,
                        "unit": "x", "met": ratio <= FLAT_MAX_RATIO})
    return out


def run(args: argparse.Namespace) -> int:
    """Build the data, measure, print one JSON object; exit 0 when every target was met."""
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="yizhan-bench-growth-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        hub = [] if args.skip_hub else [_progress(hub_case(n, workdir)) for n in _ints(args.hub_sizes)]
        kiosk = [] if args.skip_kiosk else kiosk_cases(_ints(args.kiosk_sizes), _ints(args.shifts), workdir)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    goals = targets(hub, kiosk)
    print(json.dumps({"hub": hub, "kiosk": kiosk, "targets": goals, "met": all(g["met"] for g in goals)},
                     ensure_ascii=False))
    return 0 if all(g["met"] for g in goals) else 1
