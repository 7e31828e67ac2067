"""街道月报 on the workbench: the street office's monthly report (``hub.monthly``, as ``yizhan hub report
monthly`` writes it) per station and for the district, downloadable as CSV, XLSX or PDF.

Station staff see and download only their stations' rows; the district's totals (which include
other stations) only the street office.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.responses import Response

from hub.monthly import CATEGORY_CN, DISTRICT, in_scope, monthly_rows, render, sort_key
from hub.reports import ReportError
from hub.web.guard import Ctx, route
from hub.web.i18n import translator
from kiosk.health import category_title

#: The report's own (Chinese) words in English, for the page in English; values it names (services,
#: teams, categories) stay as the report gives them.
EN = {"健康自测": "Health self-checks", "服务评价": "Ratings", "四代服务": "Errand services (四代)",
      "微心愿": "Small wishes", "建议": "Suggestions", "近期活动": "Activities", "志愿服务": "Volunteer service",
      "健康筛查日（次）": "Screening days", "测量居民（人）": "Residents measured", "血压测量（次）": "BP measurements",
      "血糖测量（次）": "Glucose measurements", "血压结果": "BP result", "血糖结果": "Glucose result",
      "请求合计": "Requests in all", "发布": "Posted", "已实现": "Fulfilled", "收到": "Received", "已答复": "Answered",
      "报名": "Sign-ups", "场次": "Sessions held", "人次": "Attendances", "时长（小时）": "Hours",
      "未分队": "no team", "待接单": "waiting", "已派单": "assigned", "已完成待确认": "done, to confirm",
      "已确认": "confirmed", "已取消": "cancelled", "非常满意": "Very satisfied", "满意": "Satisfied",
      "基本满意": "Fairly satisfied", "不满意": "Dissatisfied", "非常不满意": "Very dissatisfied", DISTRICT: "District"}


def labeller(lang: str):
    """How the page writes a report label: screening categories by their names (both languages), the
    report's own words in English on the English page (part by part around ``：``)."""
    _ = translator(lang)

    def label(text: str) -> str:
        parts = [_(category_title(_CODES[p])) if p in _CODES else p for p in str(text).split("：")]
        if lang == "en":
            return ": ".join(EN.get(p, p) for p in parts)
        return "：".join(parts)
    return label


#: The report names screening categories in Chinese; the page finds each one's message id again.
_CODES = {name: code for code, name in CATEGORY_CN.items()}


MEDIA = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "pdf": "application/pdf"}


def _month(ctx: Ctx) -> str:
    month = ctx.request.query_params.get("month", "").strip()
    return month or datetime.now(ZoneInfo(ctx.wb.tz)).strftime("%Y-%m")


def _rows(ctx: Ctx, month: str) -> tuple[list[list], list[list]]:
    """The account's rows (its own stations', or everything and the district's for the street office),
    and those of the ``?station=`` chosen (in scope) or all of them again."""
    rows = in_scope(monthly_rows(ctx.wb.engine, month, ctx.wb.tz), ctx.scope)
    station = ctx.request.query_params.get("station", "").strip()
    if not station:
        return rows, rows
    if not ctx.user.may_see(station):
        raise ReportError(f"station {station[:64]} is not in your account's scope")
    return rows, [r for r in rows if r[0] == station]


def monthly(ctx: Ctx) -> Response:
    month = _month(ctx)
    every, rows = _rows(ctx, month)
    scopes = sorted({r[0] for r in rows} - {DISTRICT}) + ([DISTRICT] if any(r[0] == DISTRICT for r in rows) else [])
    values = {(r[0], r[1], r[2]): r[3] for r in rows}
    items = sorted({(r[1], r[2]) for r in rows}, key=lambda ci: sort_key(*ci))
    grid = [(category, item, [values.get((scope, category, item), 0) for scope in scopes]) for category, item in items]
    return ctx.render("monthly.html", month=month, scopes=scopes, grid=grid, district=DISTRICT,
                      chosen=ctx.request.query_params.get("station", ""),
                      stations=sorted({r[0] for r in every} - {DISTRICT} | set(ctx.user.stations)),
                      label=labeller(ctx.lang))


def download(ctx: Ctx) -> Response:
    fmt = ctx.request.path_params["fmt"]
    if fmt not in MEDIA:
        raise ReportError(f"format must be csv, xlsx or pdf (got {fmt[:10]!r})")
    month = _month(ctx)
    data = render(_rows(ctx, month)[1], month, fmt)
    station = "".join(ch for ch in ctx.request.query_params.get("station", "") if ch.isalnum() or ch in "-_")[:64]
    name = f"monthly-{month}{'-' + station if station else ''}.{fmt}"
    return Response(data, media_type=MEDIA[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'})


ROUTES = [
    route("/reports/monthly", monthly),
    route("/reports/monthly.{fmt}", download),
]
