"""The monthly report for the street office (街道月报), per station and for the district: residents
measured and results by category, screening days, 四代 requests by type and outcome, wishes posted
and fulfilled, suggestions, activities (场次, 人次), volunteer hours by team, ratings.

Every figure is counted from the hub's tables by record id (a record delivered twice counts once).
CSV (UTF-8 with BOM for Excel), XLSX (one sheet) or PDF (Noto Sans SC).
"""
from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine

from hub.exports import csv_row, xlsx_append
from hub import care
from hub import models as m
from hub.reports import ReportError, _font_path, _write, team_names
from hub.timebank import DEFAULT_TZ, credits, engine_for
from kiosk.health import CATEGORY_ORDER, category_title
from kiosk.i18n import gettext

COLUMNS = ("范围", "类别", "项目", "数值")
DISTRICT = "全区"
STATES_CN = {"requested": "待接单", "assigned": "已派单", "done": "已完成待确认", "confirmed": "已确认",
             "cancelled": "已取消"}
RATINGS_CN = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
#: A screening category's name in the report (the kiosk's own Chinese title): bp_grade1 → 血压高（1级）.
CATEGORY_CN = {code: gettext(category_title(code), "zh_CN") for code in CATEGORY_ORDER}

#: Screening-to-care steps (hub/care.py) as the report names them; each resident's episode counts once per step.
CARE_STEPS_CN = {"elevated": "首次测得偏高（人）", "rechecked": "非同日复测（人）", "referral_suggested": "三次偏高建议转诊（人）",
                 "referred": "已转诊（人）", "outcome": "转诊结果已登记（人）", "outcome_on_time": "两周内随访到结果（人）"}
#: The order a reader expects: categories as the street office's form lists them; items within each
#: from the count to its parts (results from the best to the worst, requests by state as they go).
_CATEGORIES = ("健康自测", "公共卫生", "四代服务", "微心愿", "建议", "近期活动", "志愿服务", "服务评价")
_ITEMS = ("健康筛查日（次）", "测量居民（人）", "血压测量（次）",
          *(f"血压结果：{CATEGORY_CN[c]}" for c in CATEGORY_ORDER if c.startswith("bp_")), "血压结果：?",
          "血糖测量（次）", *(f"血糖结果：{CATEGORY_CN[c]}" for c in CATEGORY_ORDER if c.startswith("glu_")),
          "血糖结果：?", "请求合计", "发布", "已实现", "收到", "已答复", "场次", "人次", "报名",
          *RATINGS_CN.values(), *CARE_STEPS_CN.values())


def sort_key(category: str, item: str) -> tuple:
    """Where a report row stands: by :data:`_CATEGORIES`, then by :data:`_ITEMS` (a service's
    requests by state, teams' hours and anything unforeseen by name, after the known items)."""
    cat = _CATEGORIES.index(category) if category in _CATEGORIES else len(_CATEGORIES)
    if item in _ITEMS:
        return cat, 0, _ITEMS.index(item), item
    service, _, state = item.partition("：")
    states = list(STATES_CN.values())
    return cat, 1, service, states.index(state) if state in states else len(states), item


def _bounds(month: str, tz: str) -> tuple[str, str]:
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=ZoneInfo(tz))
    except ValueError:
        raise ReportError(f"month must be YYYY-MM (got {month!r})") from None
    end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    utc = ZoneInfo("UTC")
    return (start.astimezone(utc).isoformat(timespec="milliseconds"),
            end.astimezone(utc).isoformat(timespec="milliseconds"))


def monthly_rows(db: str | Engine, month: str, tz: str = DEFAULT_TZ) -> list[list[Any]]:
    """The report as rows of :data:`COLUMNS`: each station's figures, then the district's.

    Raises:
        ReportError: bad month.
    """
    since, until = _bounds(month, tz)
    engine = engine_for(db)
    figures: dict[str, Counter] = defaultdict(Counter)       # station -> (category, item) -> value
    people: dict[str, set] = defaultdict(set)
    r = m.records
    with engine.connect() as conn:
        rows = conn.execute(select(r.c.station, r.c.kind, r.c.payload).where(
            r.c.kind.in_(("bp_measurement", "glucose_measurement", "health_session_closed", "service_confirmation"))
            & (r.c.ts >= since) & (r.c.ts < until) & m.LIVE)).all()
        for station, kind, payload in rows:
            p = json.loads(payload)
            if kind == "health_session_closed":
                figures[station][("健康自测", "健康筛查日（次）")] += 1
            elif kind == "service_confirmation":
                figures[station][("服务评价", RATINGS_CN.get(p.get("rating"), "?"))] += 1
            else:
                people[station].add(p.get("person_key"))
                label = "血压" if kind == "bp_measurement" else "血糖"
                figures[station][("健康自测", f"{label}测量（次）")] += 1
                category = p.get("category", "?")
                figures[station][("健康自测", f"{label}结果：{CATEGORY_CN.get(category, category)}")] += 1
        t = m.service_requests
        for station, service, state in conn.execute(select(t.c.station, t.c.service_name, t.c.state).where(
                (t.c.requested_at >= since) & (t.c.requested_at < until))).all():
            figures[station][("四代服务", f"{service}：{STATES_CN.get(state, state)}")] += 1
            figures[station][("四代服务", "请求合计")] += 1
        w = m.wishes
        for station, kind, state in conn.execute(select(w.c.station, w.c.kind, w.c.state).where(
                (w.c.posted_at >= since) & (w.c.posted_at < until))).all():
            if kind == "wish":
                figures[station][("微心愿", "发布")] += 1
                figures[station][("微心愿", "已实现")] += state == "fulfilled"
            else:
                figures[station][("建议", "收到")] += 1
                figures[station][("建议", "已答复")] += state == "closed"
        a = m.activity_events
        sessions: dict[str, set] = defaultdict(set)
        for station, activity_id, event in conn.execute(select(a.c.station, a.c.activity_id, a.c.event).where(
                (a.c.at >= since) & (a.c.at < until))).all():
            if event == "attend":
                sessions[station].add(activity_id)
                figures[station][("近期活动", "人次")] += 1
            elif event == "signup":
                figures[station][("近期活动", "报名")] += 1
    for station, steps in care.month_figures(engine, month).items():
        for step, label in CARE_STEPS_CN.items():
            if steps.get(step):
                figures[station][("公共卫生", label)] += steps[step]
    for station, ids in sessions.items():
        figures[station][("近期活动", "场次")] = len(ids)
    for station, keys in people.items():
        figures[station][("健康自测", "测量居民（人）")] = len(keys)
    names = team_names(engine)
    for c in credits(engine, month, tz):
        figures[c.station][("志愿服务", f"时长（小时）：{names.get(c.team, c.team) or '未分队'}")] += float(c.hours)
    district: Counter = Counter()
    for counter in figures.values():
        district.update(counter)
    district[("近期活动", "场次")] = len(set().union(*sessions.values())) if sessions else 0
    district[("健康自测", "测量居民（人）")] = len(set().union(*people.values())) if people else 0
    out = []
    for scope, counter in sorted(figures.items()) + [(DISTRICT, district)]:
        out += [[scope, cat, item, _num(value)] for (cat, item), value in
                sorted(counter.items(), key=lambda kv: sort_key(*kv[0]))]
    return out


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 2)


def monthly_report(db: str | Engine, month: str, fmt: str = "csv", out: str | Path | IO | None = None,
                   tz: str = DEFAULT_TZ) -> Path | None:
    """Write the street office's monthly report as ``csv``, ``xlsx`` or ``pdf``.

    Returns:
        the path written (None when ``out`` was a file object).

    Raises:
        ReportError: bad month or format.
    """
    if fmt not in ("csv", "xlsx", "pdf"):
        raise ReportError(f"format must be csv, xlsx or pdf (got {fmt!r})")
    return _write(render(monthly_rows(db, month, tz), month, fmt), out or f"monthly-{month}.{fmt}")


def in_scope(rows: list[list[Any]], stations: tuple[str, ...] | None) -> list[list[Any]]:
    """The rows an account may see: all of them for the whole district (``stations`` None), else only
    those stations' own rows (the district's totals include other stations, so they are left out)."""
    if stations is None:
        return rows
    return [r for r in rows if r[0] in stations]


def render(rows: list[list[Any]], month: str, fmt: str) -> bytes:
    """Report rows (as :func:`monthly_rows` gives them, perhaps :func:`in_scope`) as ``csv``, ``xlsx``
    or ``pdf`` bytes.

    Raises:
        ReportError: bad format.
    """
    if fmt not in ("csv", "xlsx", "pdf"):
        raise ReportError(f"format must be csv, xlsx or pdf (got {fmt[:10]!r})")
    if fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        writer.writerows(csv_row(r) for r in rows)
        data = ("\ufeff" + text.getvalue()).encode("utf-8")
    elif fmt == "xlsx":
        from openpyxl import Workbook
        wb = Workbook()
        ws = wb.active
        ws.title = f"{month} 月报"
        ws.append(list(COLUMNS))
        for row in rows:
            xlsx_append(ws, row)
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
    else:
        data = _pdf(month, rows)
    return data


def _pdf(month: str, rows: list[list[Any]]) -> bytes:
    from fpdf import FPDF
    pdf = FPDF(format="A4")
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
    pdf.add_font("cjk", "", str(_font_path()))
    pdf.set_font("cjk", size=18)
    pdf.cell(w=0, h=12, text=f"市民驿站月报 {month}", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    widths = (38, 30, 80, 26)
    for row in [list(COLUMNS)] + rows:
        for w, value in zip(widths, row):
            pdf.cell(w=w, h=7, text=str(value), border=1)
        pdf.ln(7)
    return bytes(pdf.output())
