"""Hub reports of the volunteer time bank: the monthly volunteer report and the 志愿服务证明.

``report_volunteers`` writes hours per volunteer, team and station (with the names the hub has),
services with their 好差评 ratings, and services recorded but not yet confirmed (待确认), for one month (CSV, or XLSX with one sheet per view). ``certificate`` writes a
志愿服务证明 with what 《志愿服务记录与证明出具办法》 asks for: the volunteer's name, the masked
ID number (the hub only holds person keys, so "（已脱敏）" unless the roster carries a masked
form), the organisation, the service period, the hours, the service content, the issuing
organisation and the date — as UTF-8 text or a PDF with an embedded CJK font.
"""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from hub.exports import csv_row, xlsx_append
from hub import models as m
from hub.ledger import to_hours
from hub.timebank import DEFAULT_TZ, _when, credits, engine_for, month_of, month_range
from kiosk.timebank.catalog import DEFAULT_SERVICES, DEFAULT_TEAMS
from kiosk.timebank.kinds import RATINGS

#: 好差评 words by rating, for report columns (5 = 非常满意).
RATING_WORDS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
assert set(RATING_WORDS) == set(RATINGS)

COLUMNS = ("类别", "编号", "名称", "队伍", "驿站", "值班时长", "服务时长", "核定时长", "合计时长", "服务次数",
           "平均评分", *RATING_WORDS.values(), "待确认")


class ReportError(Exception):
    """A report cannot be produced (bad month, unknown volunteer, no CJK font); the text says why."""

    user_key = "report_error"


def _font_path() -> Path:
    try:
        import pylopdf_fonts_zh_cn
        path = Path(pylopdf_fonts_zh_cn.__file__).parent / "NotoSansSC-Regular.otf"
        if path.exists():
            return path
    except ImportError:
        pass
    raise ReportError("no Chinese font for the PDF: install the pylopdf-fonts-zh-cn package")


@dataclass
class _Row:
    kind: str
    id: str
    name: str = ""
    team: str = ""
    station: str = ""
    shift: Decimal = Decimal(0)
    service: Decimal = Decimal(0)
    review: Decimal = Decimal(0)
    services: int = 0
    pending: int = 0
    ratings: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def cells(self) -> list[Any]:
        n = sum(self.ratings.values())
        avg = round(sum(k * v for k, v in self.ratings.items()) / n, 2) if n else ""
        total = self.shift + self.service + self.review
        return [self.kind, self.id, self.name, self.team, self.station, float(self.shift), float(self.service),
                float(self.review), float(total), self.services, avg, *(self.ratings.get(k, 0) for k in RATING_WORDS),
                self.pending]


def volunteer_names(engine: Engine) -> dict[str, dict[str, Any]]:
    """Volunteer id -> roster entry (name, teams, masked_id if any) from published rosters and kiosk registrations."""
    out: dict[str, dict[str, Any]] = {}
    vt = m.volunteers
    with engine.connect() as conn:
        for (body,) in conn.execute(select(m.documents.c.body).where(m.documents.c.doc_type == "roster")).all():
            try:
                for v in json.loads(body).get("volunteers", []):
                    if isinstance(v, dict) and v.get("id"):
                        out.setdefault(str(v["id"]), v)
            except (ValueError, AttributeError):
                continue
        for vid, name, team in conn.execute(select(vt.c.volunteer_id, vt.c.name, vt.c.team)
                                            .where(vt.c.registered_record_id.is_not(None))
                                            .order_by(vt.c.registered_ts)):
            out.setdefault(vid, {"id": vid, "name": name, "teams": [team]})
    return out


def certifiable(engine: Engine) -> list[dict[str, Any]]:
    """Volunteers with credited hours (one SQL sum per volunteer account), for the certificate picker:
    ``id``, ``name`` ("" when the hub has none) and ``hours``; most hours first. None with 0 hours."""
    mv = m.movements
    with engine.connect() as conn:
        rows = conn.execute(select(mv.c.credit, func.sum(mv.c.micro_hours))
                            .where(mv.c.kind.in_(("earn", "adjust")) & mv.c.credit.like("volunteer:%"))
                            .group_by(mv.c.credit)).all()
    names = volunteer_names(engine)
    out = [{"id": credit.split(":", 1)[1], "name": str(names.get(credit.split(":", 1)[1], {}).get("name", "")),
            "hours": to_hours(int(micro or 0))} for credit, micro in rows if (micro or 0) > 0]
    return sorted(out, key=lambda v: (-v["hours"], v["id"]))


def station_names(engine: Engine) -> dict[str, str]:
    """Station id -> the name it reports in its status messages (``[station] name`` of its settings)."""
    sc = m.station_counts
    with engine.connect() as conn:
        return {sid: name for sid, name in conn.execute(select(sc.c.station, sc.c.name).where(sc.c.name.is_not(None)))}


def _missing_name(volunteer_id: str, mine: list) -> str:
    if not mine:
        return (f"the hub knows no volunteer {volunteer_id!r}: no kiosk registered them, no published roster "
                "names them, and no station sent hours for them. Check the id.")
    hours = sum((c.hours for c in mine), Decimal(0))
    stations = sorted({c.station for c in mine})
    return (f"volunteer {volunteer_id!r} has {hours.normalize():f} h from {', '.join(stations)}, but the hub has no "
            "name for them: they were not registered at a kiosk and no published roster names them. Publish a "
            "roster that lists them (yizhan hub publish roster FILE) or register them at a kiosk, then try again.")


def team_names(engine: Engine) -> dict[str, str]:
    """Team id -> name from the published catalog and rosters (built-in 五色一彩 names otherwise)."""
    out = {t.id: t.name for t in DEFAULT_TEAMS}
    with engine.connect() as conn:
        for (body,) in conn.execute(select(m.documents.c.body)
                                    .where(m.documents.c.doc_type.in_(("roster", "catalog")))).all():
            try:
                for t in json.loads(body).get("teams", []):
                    out[str(t["id"])] = str(t["name"])
            except (ValueError, AttributeError, KeyError, TypeError):
                continue
    return out


def _check_month(month: str) -> None:
    try:
        datetime.strptime(month, "%Y-%m")
    except (TypeError, ValueError):
        raise ReportError(f"month must be YYYY-MM (got {month!r})") from None


def volunteer_month(db: str | Engine, month: str, tz: str = DEFAULT_TZ) -> dict[str, list[list[Any]]]:
    """The rows of the monthly report: ``{"volunteers", "teams", "stations", "services"}``.

    Reads the month's movements and services by their indexed time, so the cost follows the
    month, not the history.

    Raises:
        ReportError: the month is not ``YYYY-MM``.
    """
    _check_month(month)
    engine = engine_for(db)
    names = volunteer_names(engine)
    teams = team_names(engine)
    stations = station_names(engine)
    service_names = {s.id: s.name for s in DEFAULT_SERVICES}
    views: dict[str, dict[str, _Row]] = {"volunteers": {}, "teams": {}, "stations": {}, "services": {}}

    def row(view: str, key: str, **kw) -> _Row:
        if key not in views[view]:
            views[view][key] = _Row(**kw)
        return views[view][key]

    def targets(vid: str, team: str, station: str) -> list[_Row]:
        person = row("volunteers", vid, kind="志愿者", id=vid, name=names.get(vid, {}).get("name", ""),
                     team=teams.get(team, team))
        where = stations.get(station) or station
        if where and where not in person.station.split("、"):
            person.station = "、".join(p for p in (person.station, where) if p)
        return [person,
                row("teams", team, kind="队伍", id=team, name=teams.get(team, team)),
                row("stations", station, kind="驿站", id=station, name=stations.get(station, station), station=station)]

    for c in credits(engine, month, tz):
        team = c.team or next(iter(names.get(c.volunteer_id, {}).get("teams", []) or [""]))
        column = c.source if c.source in ("shift", "service") else "review"
        for t in targets(c.volunteer_id, team, c.station):
            setattr(t, column, getattr(t, column) + c.hours)
    sv = m.services
    lo, hi = month_range(month, tz)
    with engine.connect() as conn:
        confirmed = conn.execute(select(sv).where((sv.c.confirmed_ts >= lo) & (sv.c.confirmed_ts < hi))
                                 .order_by(sv.c.confirmed_ts, sv.c.confirmed_record_id)).mappings().all()
        recorded = conn.execute(select(sv).where((sv.c.ts >= lo) & (sv.c.ts < hi) & sv.c.confirmed_ts.is_(None))
                                .order_by(sv.c.ts, sv.c.record_id)).mappings().all()
    for r in confirmed:
        if month_of(_when(r["confirmed_ts"]), tz) != month:
            continue
        known = r["record_id"] is not None
        vid = r["confirmed_volunteer_id"]
        stype = r["service_type"] if known else "?"
        station = r["station"] if known else r["confirmed_station"]
        team = r["team"] if known else ""
        sname = r["service_name"] if known else service_names.get(stype, stype)
        for t in (*targets(vid, team, station), row("services", stype, kind="服务", id=stype, name=sname)):
            t.services += 1
            t.ratings[r["rating"]] += 1
        views["services"][stype].service += to_hours(r["confirmed_micro_hours"])
    for r in recorded:
        if month_of(_when(r["ts"]), tz) != month:
            continue
        stype = r["service_type"]
        for t in (*targets(r["volunteer_id"], r["team"], r["station"]),
                  row("services", stype, kind="服务", id=stype, name=r["service_name"])):
            t.pending += 1
    return {view: [r.cells() for _k, r in sorted(rows.items())] for view, rows in views.items()}


SHEETS = {"volunteers": "志愿者", "teams": "队伍", "stations": "驿站", "services": "服务项目"}


def report_volunteers(db: str | Engine, month: str, fmt: str = "csv", out: str | Path | IO | None = None,
                      tz: str = DEFAULT_TZ) -> Path | None:
    """Write the monthly volunteer report.

    Args:
        fmt: ``csv`` (one table, the 类别 column tells the views apart) or ``xlsx`` (a sheet per view).
        out: a path or a binary file (default ``volunteers-<month>.<fmt>``).

    Returns:
        the path written (None when ``out`` was a file object).

    Raises:
        ReportError: bad month or format.
    """
    if fmt not in ("csv", "xlsx"):
        raise ReportError(f"format must be csv or xlsx (got {fmt!r})")
    views = volunteer_month(db, month, tz)
    if fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        for view in SHEETS:
            writer.writerows(csv_row(r) for r in views[view])
        data = ("\ufeff" + text.getvalue()).encode("utf-8")      # BOM: Excel opens UTF-8 Chinese correctly
    else:
        from openpyxl import Workbook
        from openpyxl.styles import Font
        wb = Workbook()
        wb.remove(wb.active)
        for view, title in SHEETS.items():
            ws = wb.create_sheet(title)
            ws.append(list(COLUMNS))
            for cell in ws[1]:
                cell.font = Font(bold=True)
            for r in views[view]:
                xlsx_append(ws, r)
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
    return _write(data, out or f"volunteers-{month}.{fmt}")


def _write(data: bytes, out: str | Path | IO) -> Path | None:
    if hasattr(out, "write"):
        out.write(data)
        return None
    path = Path(out)
    path.write_bytes(data)
    return path


@dataclass(frozen=True)
class CertificateData:
    """What a 志愿服务证明 states."""

    volunteer_id: str
    name: str
    masked_id: str
    organisation: str
    period_from: date | None
    period_to: date | None
    hours: Decimal
    content: list[tuple[str, Decimal, int]]     # (service or activity, hours, times)
    issuer: str
    issued: date
    stations: str = ""                          # where the service was done, by name


def certificate_data(db: str | Engine, volunteer_id: str, *, issuer: str, organisation: str = "",
                     period_from: date | None = None, period_to: date | None = None, issued: date | None = None,
                     tz: str = DEFAULT_TZ) -> CertificateData:
    """Collect a volunteer's credited service for a certificate.

    Raises:
        ReportError: the volunteer is unknown to the hub.
    """
    engine = engine_for(db)
    names = volunteer_names(engine)
    entry = names.get(volunteer_id)
    mine = credits(engine, None, tz, volunteer_id=volunteer_id)
    if entry is None:
        raise ReportError(_missing_name(volunteer_id, mine))
    teams = team_names(engine)
    refs = sorted({c.reference for c in mine})
    activity_of: dict[str, str] = {}
    service_of: dict[str, str] = {}
    with engine.connect() as conn:
        for i in range(0, len(refs), 500):
            part = refs[i:i + 500]
            activity_of.update(conn.execute(select(m.shifts.c.shift_id, m.shifts.c.activity)
                                            .where(m.shifts.c.shift_id.in_(part))).all())
            service_of.update(conn.execute(select(m.services.c.service_id, m.services.c.service_name)
                                           .where(m.services.c.service_id.in_(part))).all())
    names_by_id = {s.id: s.name for s in DEFAULT_SERVICES}
    total, first, last = Decimal(0), None, None
    station_label = station_names(engine)
    where: list[str] = []
    content: dict[str, list] = defaultdict(lambda: [Decimal(0), 0])
    for c in mine:
        day = c.at.astimezone(ZoneInfo(tz)).date()
        if (period_from and day < period_from) or (period_to and day > period_to):
            continue
        total += c.hours
        first, last = min(first or day, day), max(last or day, day)
        if (station_label.get(c.station) or c.station) not in where:
            where.append(station_label.get(c.station) or c.station)
        label = service_of.get(c.reference) if c.source == "service" else \
            names_by_id.get(activity_of.get(c.reference) or "", activity_of.get(c.reference) or "") or "志愿服务"
        content[label or "志愿服务"][0] += c.hours
        content[label or "志愿服务"][1] += 1
    if total <= 0:
        raise ReportError(f"{entry.get('name') or volunteer_id} has no credited hours"
                          f"{' in this period' if period_from or period_to else ''}: there is nothing to certify")
    team_list = [teams.get(t, t) for t in entry.get("teams", []) if t]
    org = organisation or (f"{issuer}{'、'.join(team_list)}志愿服务队" if team_list else issuer)
    return CertificateData(volunteer_id, str(entry.get("name", "")), str(entry.get("masked_id") or "（已脱敏）"), org,
                           period_from or first, period_to or last, total,
                           sorted(((k, v[0], v[1]) for k, v in content.items()), key=lambda x: -x[1]),
                           issuer, issued or datetime.now(timezone.utc).astimezone(ZoneInfo(tz)).date(), "、".join(where))


def _cn_date(d: date | None) -> str:
    return f"{d.year}年{d.month}月{d.day}日" if d else "—"


def _hours(h: Decimal) -> str:
    return f"{h.normalize():f}"


def certificate_lines(c: CertificateData) -> list[str]:
    """The certificate as lines of text (title first)."""
    period = f"{_cn_date(c.period_from)}至{_cn_date(c.period_to)}"
    return [
        "志愿服务证明",
        "",
        f"姓名：{c.name}",
        f"证件号码：{c.masked_id}",
        f"志愿者编号：{c.volunteer_id}",
        f"所属志愿服务组织：{c.organisation}",
        *([f"服务驿站：{c.stations}"] if c.stations else []),
        f"服务时间：{period}",
        f"服务时长：累计 {_hours(c.hours)} 小时",
        "服务内容：",
        *[f"    {label}：{_hours(h)} 小时（{n} 次）" for label, h, n in c.content],
        "",
        f"兹证明{c.name}同志于{period}期间参加志愿服务，经志愿服务记录核实，累计志愿服务时长"
        f"{_hours(c.hours)}小时。",
        "特此证明。",
        "",
        f"出具单位：{c.issuer}（盖章）",
        f"出具日期：{_cn_date(c.issued)}",
        "",
        "本证明依据《志愿服务记录与证明出具办法》出具，信息来自驿站志愿服务记录。",
    ]


def certificate(db: str | Engine, volunteer_id: str, fmt: str = "pdf", out: str | Path | IO | None = None, *,
                issuer: str, organisation: str = "", period_from: date | None = None, period_to: date | None = None,
                issued: date | None = None, tz: str = DEFAULT_TZ) -> Path | None:
    """Write a 志愿服务证明 for one volunteer.

    Args:
        fmt: ``pdf`` (A4, embedded Noto Sans SC) or ``txt`` (UTF-8).
        out: a path or binary file (default ``certificate-<volunteer>.<fmt>``).
        issuer: the issuing organisation, e.g. the street office or station.

    Returns:
        the path written (None for a file object).

    Raises:
        ReportError: unknown volunteer, bad format, or no CJK font.
    """
    if fmt not in ("pdf", "txt"):
        raise ReportError(f"format must be pdf or txt (got {fmt!r})")
    data = certificate_data(db, volunteer_id, issuer=issuer, organisation=organisation, period_from=period_from,
                            period_to=period_to, issued=issued, tz=tz)
    lines = certificate_lines(data)
    payload = ("\n".join(lines) + "\n").encode("utf-8") if fmt == "txt" else _pdf(lines)
    return _write(payload, out or f"certificate-{volunteer_id}.{fmt}")


def _pdf(lines: list[str]) -> bytes:
    from fpdf import FPDF
    pdf = FPDF(format="A4")
    pdf.set_margins(25, 30, 25)
    pdf.add_page()
    pdf.add_font("cjk", "", str(_font_path()))
    pdf.set_font("cjk", size=26)
    pdf.cell(w=0, h=18, text=lines[0], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("cjk", size=13)
    for line in lines[1:]:
        if not line:
            pdf.ln(4)
            continue
        if line.startswith("本证明依据"):
            pdf.set_font("cjk", size=9)
        pdf.multi_cell(w=0, h=9, text=line, align="L", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
