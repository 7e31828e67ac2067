"""发布: edit a roster, catalog or config document, check it as kiosks will, preview the difference
from the published one, then publish it (``hub.publishing``, as ``yizhan hub publish`` does)."""
from __future__ import annotations

import dataclasses
import json

from starlette.datastructures import UploadFile
from starlette.responses import Response

from hub.publishing import check, current, diff, publish
from hub.web.audit import record
from hub.web.guard import MAX_BODY, Ctx, route
from sync.messages import ALL_STATIONS, DOCUMENT_TYPES, MessageError, SchemaError, valid_station_id

#: Fields the hub adds to a roster when publishing; the editor leaves them out.
COMPUTED = ("balance", "open_shift")


class DocumentRefused(SchemaError):
    """The document text cannot be used (not JSON, wrong type or scope); nothing is published."""

    user_key = "document_refused"


class NoSigningKey(SchemaError):
    """The workbench was started without the hub's document key: kiosks would refuse what it sends."""

    user_key = "document_refused"


def _target(ctx: Ctx, source) -> tuple[str, str]:
    doc_type = source.get("type", "catalog")
    scope = (source.get("scope") or ALL_STATIONS).strip()
    if doc_type not in DOCUMENT_TYPES:
        raise DocumentRefused(f"document type must be one of {', '.join(DOCUMENT_TYPES)}")
    if scope != ALL_STATIONS and not valid_station_id(scope):
        raise DocumentRefused(f"{scope[:64]!r} is not a station id")
    return doc_type, scope


def _editable(body):
    if isinstance(body, dict) and isinstance(body.get("volunteers"), list):
        body = dict(body, volunteers=[{k: v for k, v in p.items() if k not in COMPUTED} if isinstance(p, dict) else p
                                      for p in body["volunteers"]])
    return body


def editor(ctx: Ctx) -> Response:
    doc_type, scope = _target(ctx, ctx.request.query_params)
    published = current(ctx.wb.store, doc_type, scope)
    text = json.dumps(_editable(published[1]), ensure_ascii=False, indent=2) if published else "{\n}"
    return ctx.render("publish.html", doc_type=doc_type, scope=scope, text=text, types=DOCUMENT_TYPES,
                      version=published[0] if published else None, error="", lines=None)


def _body(ctx: Ctx):
    upload = ctx.form.get("file")
    text = ctx.form.get("body", "")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = upload.file.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise DocumentRefused(f"the file is larger than {MAX_BODY // 1024} KB")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DocumentRefused("the file is not UTF-8 text") from None
    try:
        return text, json.loads(text)
    except ValueError as exc:
        raise DocumentRefused(f"the document is not valid JSON: {exc}") from None


def preview(ctx: Ctx) -> Response:
    doc_type, scope = _target(ctx, ctx.form)
    published = current(ctx.wb.store, doc_type, scope)
    version = published[0] if published else None
    try:
        text, body = _body(ctx)
        check(doc_type, body, scope)
    except MessageError as exc:
        return ctx.render("publish.html", status_code=400, doc_type=doc_type, scope=scope, types=DOCUMENT_TYPES,
                          text=ctx.form.get("body", "") if isinstance(ctx.form.get("body"), str) else "",
                          version=version, error=str(exc), lines=None)
    return ctx.render("publish.html", doc_type=doc_type, scope=scope, types=DOCUMENT_TYPES, version=version,
                      text=json.dumps(body, ensure_ascii=False, indent=2), error="",
                      lines=diff(ctx.wb.store, doc_type, body, scope))


def send(ctx: Ctx) -> Response:
    doc_type, scope = _target(ctx, ctx.form)
    _text, body = _body(ctx)
    before = current(ctx.wb.store, doc_type, scope)
    if ctx.wb.signing_key is None:
        raise NoSigningKey("the workbench has no document signing key (start it with --signing-key); "
                           "kiosks refuse unsigned documents, so nothing was published")
    doc = publish(ctx.wb.store, doc_type, body, scope, signing_key=ctx.wb.signing_key,
                  **dataclasses.asdict(ctx.wb.broker))
    with ctx.wb.engine.begin() as conn:
        record(conn, ctx.user.username, "document.publish", None if scope == ALL_STATIONS else scope,
               f"{doc_type}/{scope}", {"version": before[0]} if before else None, {"version": doc.version})
    return ctx.redirect(f"/publish?type={doc_type}&scope={scope}",
                        ctx._("Published {type} version {version}.", type=doc_type, version=doc.version))


ROUTES = [
    route("/publish", editor, role="district"),
    route("/publish/preview", preview, methods=("POST",), role="district"),
    route("/publish/send", send, methods=("POST",), role="district"),
]
