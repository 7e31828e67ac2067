"""``yizhan bench personkey``: what one person-key derivation costs here, and what that makes the
search of a thief who holds the district key (docs/kiosk-disk.md).

One salt serves the whole district (every station must find a resident's records by the key the
card gives), so a guessed ID number, derived once, is checked against every person key on the disk
at once: the cost of a search is the number of guesses times one derivation, whatever the number of
residents. The guess spaces are counted from the number's structure (6-digit region code, birth
date, 3-digit sequence whose last digit's parity is the gender; the check digit follows).
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import statistics
import time

from kiosk import privacy

_NUMBER = "11010519491231002X"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan bench personkey``."""
    parser.add_argument("--runs", type=int, default=9, help="derivations timed (median and minimum reported)")


def guess_spaces() -> dict[str, int]:
    """Guesses a search must try for each case of docs/kiosk-disk.md (gender known halves the sequence)."""
    return {
        "one_region_one_birth_year_gender_known": 1 * 365 * 500,
        "one_region_ten_years_gender_known": 1 * 3652 * 500,
        "five_regions_100_years": 5 * 36525 * 1000,
    }


def _cpu_ms(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        out.append((time.process_time() - start) * 1000)
    return out


def measure(runs: int) -> dict:
    """Derivation cost (CPU ms: the machine is shared, CPU time is what a thief pays per core)."""
    key = bytes(32)
    current = _cpu_ms(lambda: privacy.person_key(key, _NUMBER), runs)
    label, cost = privacy.EARLIER_PERSON_KEY_COSTS[0]
    earlier = _cpu_ms(lambda: privacy._scrypt_key(key, _NUMBER, label, cost), runs)
    legacy = _cpu_ms(lambda: [hmac.new(key, _NUMBER.encode(), hashlib.sha256).digest() for _ in range(1000)], 3)
    ms = statistics.median(current)
    return {
        "cost": privacy.PERSON_KEY_COST,
        "memory_mib": 128 * privacy.PERSON_KEY_COST["n"] * privacy.PERSON_KEY_COST["r"] // 2 ** 20,
        "derivation_cpu_ms": {"median": round(ms, 1), "min": round(min(current), 1)},
        "earlier_scrypt_cpu_ms": {"median": round(statistics.median(earlier), 1), "min": round(min(earlier), 1)},
        "hmac_cpu_us": round(statistics.median(legacy), 2),
        "search_core_hours": {name: round(n * ms / 1000 / 3600, 1) for name, n in guess_spaces().items()},
    }


def run(args: argparse.Namespace) -> int:
    """Print the measurement as one JSON object."""
    print(json.dumps(measure(max(1, args.runs)), ensure_ascii=False))
    return 0
