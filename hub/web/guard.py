"""The one way a workbench route is built: sign-in, role, station scope and CSRF before the handler.

:func:`route` wraps every handler. In order it refuses a request body over the upload limit,
finds the session (no session: to the sign-in page), checks the role the route needs, checks that
a ``{station}`` in the path is in the account's scope, and for every POST checks the CSRF token of
the form (or the ``X-CSRF-Token`` header htmx sends) against the session's. Handlers are plain
functions of a :class:`Ctx` and run in a worker thread; an error that carries a ``user_key`` becomes
a page with its message and changes nothing.
"""
from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from hub.web.accounts import User, session_user
from hub.web.i18n import error_text, translator
from hub.web.view import Names

log = logging.getLogger(__name__)

SESSION_COOKIE = "yz_session"
LOGIN_CSRF_COOKIE = "yz_login_csrf"
LANG_COOKIE = "yz_lang"
#: The largest request body accepted (a document upload is at most this).
MAX_BODY = 256 * 1024
ROLE_RANK = {"staff": 0, "care": 0, "district": 1, "admin": 2}


@dataclass
class Ctx:
    """What a handler gets: the request, the account, the form, the translator, the workbench."""

    request: Request
    wb: Any
    user: User | None
    csrf: str
    lang: str
    form: FormData | None = None
    flash: str = ""
    extra_cookies: dict[str, str] = field(default_factory=dict)

    def _(self, text: str, **kw) -> str:
        """The text in the page's language."""
        return translator(self.lang)(text, **kw)

    @property
    def station(self) -> str | None:
        """The ``{station}`` of the path (already checked against the scope)."""
        return self.request.path_params.get("station")

    @property
    def scope(self) -> tuple[str, ...] | None:
        """The stations the account may see (None: all)."""
        return self.user.scope() if self.user else ()

    def field(self, name: str, default: str = "") -> str:
        """A text field of the posted form, stripped."""
        value = self.form.get(name, default) if self.form is not None else default
        return value.strip() if isinstance(value, str) else default

    def render(self, template: str, status_code: int = 200, **context) -> Response:
        """A page from a template with the common context (user, csrf, translator, flash)."""
        return self.wb.templates.TemplateResponse(self.request, template, {
            "user": self.user, "csrf": self.csrf, "lang": self.lang, "_": translator(self.lang),
            "flash": self.flash, "station": self.station, "names": Names(self.wb.engine), **context}, status_code=status_code)

    def redirect(self, url: str, flash: str = "") -> Response:
        """Post-redirect-get, with a one-time message for the next page."""
        resp = RedirectResponse(url, status_code=303)
        if flash:
            resp.set_cookie("yz_flash", quote(flash), max_age=60, httponly=True, samesite="strict",
                            secure=self.wb.secure_cookies)
        return resp


def _error(ctx: Ctx, status: int, message: str) -> Response:
    return ctx.render("error.html", status_code=status, message=message)


def route(path: str, handler: Callable[[Ctx], Response], *, methods: tuple[str, ...] = ("GET",),
          role: str | None = "staff", name: str | None = None) -> Route:
    """A route whose handler runs only for a signed-in account of at least ``role`` (None: public),
    in scope of the path's station, with a valid CSRF token on every POST."""

    async def endpoint(request: Request) -> Response:
        wb = request.app.state.wb
        lang = request.cookies.get(LANG_COOKIE, "zh")
        lang = lang if lang in ("zh", "en") else "zh"
        found = await run_in_threadpool(session_user, wb.engine, request.cookies.get(SESSION_COOKIE, ""))
        user, csrf = found if found else (None, "")
        if user is None:
            csrf = request.cookies.get(LOGIN_CSRF_COOKIE, "") or secrets.token_urlsafe(32)
        ctx = Ctx(request, wb, user, csrf, lang, flash=unquote(request.cookies.get("yz_flash", "")))
        try:
            size = int(request.headers.get("content-length") or 0)
        except ValueError:
            size = MAX_BODY + 1
        if size > MAX_BODY:
            return _error(ctx, 413, ctx._("The upload is too large (at most {kb} KB). Nothing was changed.",
                                          kb=MAX_BODY // 1024))
        if role is not None:
            if user is None:
                if request.method == "GET":
                    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
                return _error(ctx, 401, ctx._("Please sign in again. Nothing was changed."))
            if ROLE_RANK[user.role] < ROLE_RANK[role]:
                return _error(ctx, 403, ctx._("Your account may not open this page."))
            station = request.path_params.get("station")
            if station is not None and not user.may_see(station):
                log.warning("%s tried station %s outside its scope: %s", user.username, station[:64], request.url.path)
                return _error(ctx, 403, ctx._("Station {station} is not in your account's scope. Nothing was changed.",
                                              station=station[:64]))
        if request.method == "POST":
            try:
                ctx.form = await request.form(max_files=1, max_fields=60, max_part_size=MAX_BODY)
            except Exception:     # multipart errors of any kind: a malformed or oversized form
                return _error(ctx, 400, ctx._("The form could not be read. Nothing was changed."))
            sent = ctx.field("csrf") or request.headers.get("x-csrf-token", "")
            if not csrf or not sent or not hmac.compare_digest(sent, csrf):
                return _error(ctx, 403, ctx._("The form has expired or did not come from this site. "
                                              "Reload the page and try again. Nothing was changed."))
        try:
            resp = await run_in_threadpool(handler, ctx)
        except Exception as exc:
            if not getattr(exc, "user_key", None):
                raise
            return _error(ctx, 400, error_text(exc, ctx.lang) + " " + ctx._("Nothing was changed."))
        if ctx.flash:
            resp.delete_cookie("yz_flash")
        if user is None and not request.cookies.get(LOGIN_CSRF_COOKIE) and role is None:
            resp.set_cookie(LOGIN_CSRF_COOKIE, ctx.csrf, httponly=True, samesite="strict", secure=wb.secure_cookies)
        for k, v in ctx.extra_cookies.items():
            resp.set_cookie(k, v, httponly=True, samesite="strict", secure=wb.secure_cookies)
        return resp

    endpoint.__name__ = name or handler.__name__
    endpoint.guarded = True
    return Route(path, endpoint, methods=list(methods), name=name or handler.__name__)
