"""Accounts (admin) and the audit log (district and admin)."""
from __future__ import annotations

from starlette.responses import Response

from hub.web import accounts
from hub.web.audit import entries
from hub.web.guard import Ctx, route


def users(ctx: Ctx) -> Response:
    return ctx.render("users.html", users=accounts.list_users(ctx.wb.engine), roles=accounts.ROLES)


def add(ctx: Ctx) -> Response:
    stations = [s.strip() for s in ctx.field("stations").replace("，", ",").split(",") if s.strip()]
    accounts.add_user(ctx.wb.engine, ctx.field("username"), ctx.form.get("password", ""), ctx.field("role"),
                      stations, ctx.field("display_name"), actor=ctx.user.username)
    return ctx.redirect("/admin/users", ctx._("Account added."))


def disable(ctx: Ctx) -> Response:
    name = ctx.request.path_params["username"]
    if name == ctx.user.username:
        raise accounts.AccountError("you cannot disable your own account")
    accounts.set_disabled(ctx.wb.engine, name, ctx.field("enable") != "1", actor=ctx.user.username)
    return ctx.redirect("/admin/users", ctx._("Saved."))


def audit_log(ctx: Ctx) -> Response:
    return ctx.render("audit.html", entries=entries(ctx.wb.engine, ctx.scope))


ROUTES = [
    route("/admin/users", users, role="admin"),
    route("/admin/users", add, methods=("POST",), role="admin", name="users_add"),
    route("/admin/users/{username}/disable", disable, methods=("POST",), role="admin"),
    route("/audit", audit_log, role="district"),
]
