"""Logging to a rotating file in the data directory, with a last-line privacy filter.

Code never logs names, document numbers or birth data; the filter additionally removes, before a
record is written anywhere, anything that looks like a document number: a full ID number, an
18- or 15-character candidate whatever its check digit, and masked forms such as
``310***********1234`` (whose region prefix, sequence and check digit narrow a search to seconds).
Nothing of the number is kept, not even the masked form.
"""
from __future__ import annotations

import errno
import logging
import logging.handlers
import os
import re
import sys
import time
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: What the filter writes where a number (or any part of one) was.
SCRUBBED = "[ID number]"
#: File mode of the log files (owner read-write, group read: the station's admin group).
LOG_MODE = 0o640

_NUMBERISH = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"\d{17}[\dXx]|\d{15}"                              # full-length candidates, valid or not
    r"|[0-9A-Za-z]{0,6}[*＊]{3,}[0-9A-Za-z]{0,4}"        # masked forms: 310***********1234, 12****34
    r")(?![0-9A-Za-z])")


def scrub_document_numbers(text: str) -> str:
    """``text`` with every document-number candidate and masked number replaced by ``[ID number]``."""
    return _NUMBERISH.sub(SCRUBBED, text)


class RedactingFilter(logging.Filter):
    """Removes document numbers (full, invalid or masked) from the message, its arguments and any
    exception text before a handler writes the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = scrub_document_numbers(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = scrub_document_numbers(text)
            record.exc_info = None
            record.msg = f"{record.msg}\n{record.exc_text}"
            record.exc_text = None
        return True


class KivyNoiseFilter(logging.Filter):
    """Keeps Kivy's start-up chatter that means nothing to an operator off the console."""

    NOISE = ("Older configuration version detected", "Upgrading configuration in progress")

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("kivy") and any(n in record.getMessage() for n in self.NOISE))


def _create_private(path: Path, mode: int) -> None:
    """Create ``path`` with ``mode`` if missing, and tighten an existing file to ``mode``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, mode)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose files are created with :data:`LOG_MODE` whatever the umask,
    and which, when the disk is full, says so on stderr once a minute instead of printing a
    traceback for every record it could not write."""

    _complained_at: float | None = None

    def _open(self):
        _create_private(Path(self.baseFilename), LOG_MODE)
        return super()._open()

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            now = time.monotonic()
            if self._complained_at is None or now - self._complained_at >= 60:
                self._complained_at = now
                print(f"yizhan: the log {self.baseFilename} cannot be written: the disk is full",
                      file=sys.stderr, flush=True)
            return
        super().handleError(record)


def setup_logging(data_dir: Path, level: int = logging.INFO, console_level: int = logging.WARNING) -> Path:
    """Log to ``<data_dir>/logs/yizhan.log`` (1 MB x 5 files, mode 0640) and warnings to stderr.

    Returns the log file path. Raises OSError if the directory cannot be created.
    """
    log_dir = Path(data_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    path = log_dir / "yizhan.log"
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_yizhan", False):
            root.removeHandler(handler)
    redact = RedactingFilter()
    file_handler = _PrivateRotatingFileHandler(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    file_handler.addFilter(redact)
    console = logging.StreamHandler()
    console.setLevel(console_level)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    console.addFilter(redact)
    console.addFilter(KivyNoiseFilter())
    for handler in (file_handler, console):
        handler._yizhan = True
        root.addHandler(handler)
    root.setLevel(level)
    return path
