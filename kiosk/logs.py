"""Logging to a rotating file in the data directory, with a last-line privacy filter.

Code never logs names or document numbers; the filter additionally masks anything that looks
like a full ID number (valid check digit) before a record is written anywhere.
"""
from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from kiosk.privacy import redact_id_numbers

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFilter(logging.Filter):
    """Masks full ID numbers in the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_id_numbers(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class KivyNoiseFilter(logging.Filter):
    """Keeps Kivy's start-up chatter that means nothing to an operator off the console."""

    NOISE = ("Older configuration version detected", "Upgrading configuration in progress")

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("kivy") and any(n in record.getMessage() for n in self.NOISE))


def setup_logging(data_dir: Path, level: int = logging.INFO, console_level: int = logging.WARNING) -> Path:
    """Log to ``<data_dir>/logs/yizhan.log`` (1 MB x 5 files) and warnings to stderr.

    Returns the log file path. Raises OSError if the directory cannot be created.
    """
    log_dir = Path(data_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "yizhan.log"
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_yizhan", False):
            root.removeHandler(handler)
    redact = RedactingFilter()
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
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
