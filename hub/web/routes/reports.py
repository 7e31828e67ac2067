"""报表: health screening statistics per station and month (with charts), the monthly volunteer
report (CSV/XLSX), and the 志愿服务证明 PDF."""
from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.responses import Response

from hub.reports import ReportError, certifiable, certificate, report_volunteers, station_names
from hub.screening import station_month
from hub.web.charts import bars
from hub.web.guard import Ctx, route
from kiosk.health import category_title

def _month(ctx: Ctx) -> str:
    month = ctx.request.query_params.get("month", "")
    return month or datetime.now(ZoneInfo(ctx.wb.tz)).strftime("%Y-%m")


def reports(ctx: Ctx) -> Response:
    month = _month(ctx)
    stats = station_month(ctx.wb.engine, month, ctx.scope, ctx.wb.tz)
    names = station_names(ctx.wb.engine)
    chart = bars([(names.get(s) or s, [v["measurements"], v["residents"], v["urgent"]]) for s, v in stats.items()],
                 [ctx._("Measurements"), ctx._("Residents measured"), ctx._("Urgent")],
                 title=ctx._("Health screening, {month}", month=month),
                 colours=("#1f5fa8", "#455a64", "#c0392b")) if stats else ""     # 紧急 in red
    categories: dict[str, int] = {}
    for v in stats.values():
        for c, n in v["categories"].items():
            categories[c] = categories.get(c, 0) + n
    cat_chart = bars([(ctx._(category_title(c)), [n]) for c, n in sorted(categories.items())],
                     [ctx._("Measurements")], title=ctx._("Screening categories")) if categories else ""
    return ctx.render("reports.html", month=month, stats=stats, chart=chart, cat_chart=cat_chart,
                      volunteers=certifiable(ctx.wb.engine) if ctx.user.all_stations else [],
                      category_title=category_title)


def volunteer_report(ctx: Ctx) -> Response:
    fmt = ctx.request.path_params["fmt"]
    month = _month(ctx)
    if fmt not in ("csv", "xlsx"):
        raise ReportError(f"format must be csv or xlsx (got {fmt[:10]!r})")
    buf = io.BytesIO()
    report_volunteers(ctx.wb.engine, month, fmt, buf, tz=ctx.wb.tz)
    media = "text/csv; charset=utf-8" if fmt == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(buf.getvalue(), media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="volunteers-{month}.{fmt}"'})


def certificate_pdf(ctx: Ctx) -> Response:
    vid = ctx.request.query_params.get("volunteer", "").strip()
    if not vid:
        raise ReportError("choose a volunteer")
    buf = io.BytesIO()
    certificate(ctx.wb.engine, vid, "pdf", buf, issuer=ctx.wb.issuer, tz=ctx.wb.tz)
    safe = "".join(ch for ch in vid if ch.isalnum() or ch in "-_")[:40] or "volunteer"
    return Response(buf.getvalue(), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="certificate-{safe}.pdf"'})


ROUTES = [
    route("/reports", reports),
    route("/reports/volunteers.{fmt}", volunteer_report, role="district"),
    route("/reports/certificate.pdf", certificate_pdf, role="district"),
]
