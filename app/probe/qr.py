"""``yizhan probe qr --source SRC``: read frames until a QR code decodes, verify it, print one JSON object.

SRC is a camera index (``0``), a video file or an image folder. The token is verified with the
district key from ``YIZHAN_DISTRICT_KEY`` (hex). The subject key is shortened in the output.

Output and exit codes follow the form every probe shares (``app.probe``): 0 = a code decoded and
verified; 1 = the source failed or no code decoded in time; 2 = bad arguments (``--timeout nan``);
3 = a code decoded but was refused (forged, expired, not a station token, or no district key).
"""
from __future__ import annotations

import argparse
import os
import time

from app.probe import ProbeUsageError, fail, seconds, succeed
from drivers.errors import DriverError
from drivers.qr import decode_qr, open_source
from kiosk.privacy import redact_id_numbers
from kiosk.tokens import TokenError, peek_kind, verify_token


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``yizhan probe qr``."""
    parser.add_argument("--source", required=True, help="camera index, video file or image folder")
    parser.add_argument("--timeout", default="15", metavar="S",
                        help="seconds to keep reading frames (a file also stops at its end)")


def _short(subject: str) -> str:
    return subject if len(subject) <= 12 else f"{subject[:8]}…{subject[-4:]}"


def _fail(doc: dict, message: str, code: int) -> int:
    fields = {k: v for k, v in doc.items() if k not in ("ok", "error", "message")}
    return fail("qr", code, doc.get("error") or doc.get("refusal") or "Error", message, **fields)


def run(args: argparse.Namespace) -> int:
    """Decode one code from the source and print one JSON object; see the module docstring."""
    doc: dict = {"ok": False, "source": args.source, "frames_read": 0}
    try:
        timeout = seconds(args.timeout)
    except ProbeUsageError as exc:
        return fail("qr", 2, "UsageError", str(exc), source=args.source)
    t0 = time.monotonic()
    try:
        source = open_source(args.source)
    except DriverError as exc:
        doc.update(error=type(exc).__name__, message=str(exc))
        return _fail(doc, f"{exc} (a camera index like 0, a video file or a folder of images)", 1)
    doc["open_ms"] = round((time.monotonic() - t0) * 1000, 3)
    deadline = t0 + timeout
    text = None
    try:
        while time.monotonic() < deadline:
            frame = source.read()
            if frame is None:
                break
            doc["frames_read"] += 1
            started = time.perf_counter()
            texts = decode_qr(frame)
            if texts:
                doc["decode_ms"] = round((time.perf_counter() - started) * 1000, 3)
                text = texts[0]
                break
    except DriverError as exc:
        doc.update(error=type(exc).__name__, message=str(exc))
        return _fail(doc, str(exc), 1)
    finally:
        source.close()
    doc["elapsed_ms"] = round((time.monotonic() - t0) * 1000, 3)
    if text is None:
        doc.update(error="NoCode", message="no QR code decoded")
        return _fail(doc, f"no QR code in {doc['frames_read']} frames from {args.source}", 1)
    doc["kind"] = peek_kind(text)
    doc["text_length"] = len(text)
    if doc["kind"] is None:
        doc["text_prefix"] = redact_id_numbers(text[:16])
    try:
        key = bytes.fromhex(os.environ.get("YIZHAN_DISTRICT_KEY", ""))
    except ValueError:
        key = b""
    if len(key) < 16:
        doc.update(verified=False, refusal="NoDistrictKey", message="YIZHAN_DISTRICT_KEY (hex) is not set")
        return _fail(doc, "set YIZHAN_DISTRICT_KEY to verify the token", 3)
    try:
        token = verify_token(key, text)
    except TokenError as exc:
        doc.update(verified=False, refusal=type(exc).__name__, user_key=exc.user_key, message=str(exc))
        return _fail(doc, f"code refused: {type(exc).__name__}: {exc}", 3)
    doc.update(verified=True, kind=token.kind, subject=_short(token.subject), station=token.station,
               issued_at=token.issued_at.isoformat(), expires_at=token.expires_at.isoformat(),
               bound=token.bound, one_time=token.one_time)
    doc.pop("ok")
    return succeed("qr", doc)
