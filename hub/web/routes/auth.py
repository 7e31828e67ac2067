"""Sign in, sign out, language."""
from __future__ import annotations

from urllib.parse import urlsplit

from starlette.responses import RedirectResponse, Response

from hub.web.accounts import SignInRefused, sign_in, sign_out
from hub.web.guard import LANG_COOKIE, SESSION_COOKIE, Ctx, route
from hub.web.i18n import error_text


def _safe_next(url: str) -> str:
    parts = urlsplit(url or "/")
    return url if not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//") else "/"


def login_page(ctx: Ctx) -> Response:
    if ctx.user:
        return RedirectResponse("/", status_code=303)
    return ctx.render("login.html", next=_safe_next(ctx.request.query_params.get("next", "/")), error="")


def login(ctx: Ctx) -> Response:
    nxt = _safe_next(ctx.field("next", "/"))
    address = ctx.request.client.host if ctx.request.client else "?"
    try:
        token, _csrf = sign_in(ctx.wb.engine, ctx.field("username"), ctx.form.get("password", ""), address)
    except SignInRefused as exc:
        return ctx.render("login.html", status_code=401, next=nxt, error=error_text(exc, ctx.lang))
    resp = RedirectResponse(nxt, status_code=303)
    resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=ctx.wb.secure_cookies)
    return resp


def logout(ctx: Ctx) -> Response:
    sign_out(ctx.wb.engine, ctx.request.cookies.get(SESSION_COOKIE, ""), ctx.user.username)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE)
    return resp


def language(ctx: Ctx) -> Response:
    code = ctx.request.path_params["code"]
    resp = RedirectResponse(_safe_next(ctx.request.query_params.get("next", "/")), status_code=303)
    if code in ("zh", "en"):
        resp.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", secure=ctx.wb.secure_cookies)
    return resp


ROUTES = [
    route("/login", login_page, role=None),
    route("/login", login, methods=("POST",), role=None, name="login_post"),
    route("/logout", logout, methods=("POST",)),
    route("/lang/{code}", language, role=None),
]
