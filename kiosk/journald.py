"""Structured logs to journald over its native protocol (stdlib only; no ``systemd`` Python module).

Under systemd (``$JOURNAL_STREAM`` is set), :func:`setup_journald` adds a handler that sends each
log record as a datagram of ``KEY=value`` fields to ``/run/systemd/journal/socket``: ``MESSAGE``,
``PRIORITY``, ``LOGGER``, ``CODE_FILE``/``CODE_LINE``/``CODE_FUNC``, ``THREAD`` and the fields given
(e.g. ``YIZHAN_STATION=sh-pd-zj-001``), so ``journalctl YIZHAN_STATION=sh-pd-zj-001`` filters by
them. The stderr handler is then removed (journald would store each line twice). Outside systemd
nothing changes. Records pass the privacy filter first (full ID numbers masked).
"""
from __future__ import annotations

import logging
import os
import socket
import struct
from collections.abc import Mapping

from kiosk.logs import RedactingFilter

JOURNAL_SOCKET = "/run/systemd/journal/socket"
#: logging level -> syslog priority
PRIORITIES = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}


def encode_fields(fields: Mapping[str, object]) -> bytes:
    """One journal datagram. Values with a newline use the binary form (name, newline, 64-bit
    little-endian length, value, newline)."""
    out = bytearray()
    for key, value in fields.items():
        data = str(value).encode("utf-8", "replace")
        name = key.upper().encode("ascii")
        if b"\n" in data:
            out += name + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += name + b"=" + data + b"\n"
    return bytes(out)


class JournalHandler(logging.Handler):
    """Sends log records to journald with structured fields.

    Args:
        fields: extra fields on every record (names: upper case letters, digits, underscore).
        socket_path: the journal's socket (tests point it elsewhere).
    """

    def __init__(self, fields: Mapping[str, object] | None = None, socket_path: str = JOURNAL_SOCKET) -> None:
        super().__init__()
        self.fields = {k.upper(): v for k, v in (fields or {}).items()}
        self.socket_path = socket_path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.addFilter(RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            fields = {"MESSAGE": message, "PRIORITY": PRIORITIES.get(record.levelno, 6),
                      "SYSLOG_IDENTIFIER": "yizhan", "LOGGER": record.name, "CODE_FILE": record.pathname,
                      "CODE_LINE": record.lineno, "CODE_FUNC": record.funcName, "THREAD": record.threadName,
                      **self.fields}
            self._sock.sendto(encode_fields(fields), self.socket_path)
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self._sock.close()
        super().close()


def setup_journald(env: Mapping[str, str] | None = None, socket_path: str = JOURNAL_SOCKET,
                   **fields: object) -> JournalHandler | None:
    """Under systemd, log to journald with ``YIZHAN_<NAME>=value`` fields; returns the handler, or
    None when not running under systemd (``$JOURNAL_STREAM`` unset) or the socket is missing."""
    env = os.environ if env is None else env
    if not env.get("JOURNAL_STREAM") or not os.path.exists(socket_path):
        return None
    handler = JournalHandler({f"YIZHAN_{k}": v for k, v in fields.items()}, socket_path)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, logging.StreamHandler) and getattr(old, "stream", None) is not None \
                and getattr(old.stream, "name", "") == "<stderr>":
            root.removeHandler(old)
    root.addHandler(handler)
    return handler
