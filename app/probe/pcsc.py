"""``yizhan probe pcsc``: list the PC/SC readers, wait for one card, print its UID as one JSON object.

Output and exit codes follow the form every probe shares (``app.probe``): 0 = a UID was read;
1 = pcscd down, no matching reader, no card in time or a read error (the JSON says which, with a
hint for the installer); 2 = bad arguments (a bad number such as ``--timeout nan`` included).
"""
from __future__ import annotations

import argparse
import time

from app.probe import ProbeUsageError, fail, seconds, succeed
from drivers.errors import DriverError
from drivers.pcsc import (CardReadTimeout, CardRemoved, CardStatusError, NoReader, PcscServiceDown,
                          list_readers, read_uid_once, select_reader)

_HINTS = {
    PcscServiceDown: "pcscd is not running: start it with 'pcscd -f' (or 'systemctl start pcscd.socket')",
    NoReader: "plug the reader in, or set the reader prefix to one of the attached readers (--reader)",
    CardReadTimeout: "place a card on the reader, or raise --timeout",
    CardRemoved: "hold the card still on the reader until the probe prints the UID",
    CardStatusError: "the reader refused GET DATA (FF CA): the card type may not have a readable UID",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``yizhan probe pcsc``."""
    parser.add_argument("--reader", default="", metavar="PREFIX",
                        help="reader name prefix, e.g. 'ACS ACR122' (default: the first reader)")
    parser.add_argument("--timeout", default="15", metavar="S", help="seconds to wait for a card")


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def run(args: argparse.Namespace) -> int:
    """Read one card and print one JSON object; see the module docstring for exit codes."""
    try:
        timeout = seconds(args.timeout)
    except ProbeUsageError as exc:
        return fail("pcsc", 2, "UsageError", str(exc))
    t0 = time.monotonic()
    readers: list[str] = []
    try:
        readers = list_readers()
        t_list = time.monotonic()
        reader = select_reader(readers, args.reader)
        tap = read_uid_once(args.reader, timeout)
    except DriverError as exc:
        hint = next((h for cls, h in _HINTS.items() if isinstance(exc, cls)), "see the message")
        return fail("pcsc", 1, type(exc).__name__, f"{exc} (hint: {hint})", user_key=exc.user_key, hint=hint,
                    readers=readers)
    return succeed("pcsc", {
        "reader": tap.reader, "uid": tap.uid, "atr": tap.atr, "readers": readers,
        "selected": reader,
        "timings_ms": {"list_readers": _ms(t_list - t0), "wait_for_card": _ms(tap.detected_at - t_list),
                       "read_uid": _ms(tap.at - tap.detected_at), "total": _ms(tap.at - t0)},
    })
