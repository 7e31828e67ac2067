"""One district clock: the kiosk shows, prints and counts days in the district's time zone
(``[station] timezone``, default ``Asia/Shanghai``), whatever zone the machine itself is set to.

Records are stored in UTC; :func:`use_district_zone` makes every local-time conversion of the kiosk
process (``datetime.astimezone()``, the header clock, device clocks) the district's, and remembers
the machine's own zone so ``yizhan doctor`` can warn when the two differ.
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The zone a district uses when its settings name none.
DEFAULT_ZONE = "Asia/Shanghai"
_machine: tuple[str, timedelta | None] | None = None


def zone_exists(name: str) -> bool:
    """``name`` is an IANA time zone this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _tz_value(name: str) -> str:
    """A ``TZ`` value the C library reads: the zone name when the system has it, else the file
    Python's own time zone data holds."""
    if Path("/usr/share/zoneinfo", name).exists():
        return name
    try:
        from importlib.resources import files
        path = files("tzdata.zoneinfo").joinpath(*name.split("/"))
        return f":{path}" if Path(str(path)).exists() else name
    except ModuleNotFoundError:
        return name


def machine_zone() -> tuple[str, timedelta | None]:
    """The machine's own zone as the process found it: (its name or ``TZ`` value, its UTC offset now)."""
    if _machine is not None:
        return _machine
    name = os.environ.get("TZ", "")
    if not name:
        link = Path("/etc/localtime")
        name = str(link.resolve()).split("zoneinfo/")[-1] if link.exists() else "UTC"
    return name, datetime.now().astimezone().utcoffset()


def use_district_zone(name: str) -> None:
    """Make ``name`` the local zone of this process (remembering the machine's own first)."""
    global _machine
    if _machine is None:
        _machine = machine_zone()
    os.environ["TZ"] = _tz_value(name)
    time.tzset()


def zone_mismatch(name: str) -> str:
    """"" when the machine's zone keeps the district's time now; else what differs, for ``doctor``."""
    machine, offset = machine_zone()
    district = datetime.now(timezone.utc).astimezone(ZoneInfo(name)).utcoffset()
    if offset == district:
        return ""
    return (f"the machine's time zone is {machine} (UTC{_hours(offset)}) but the district's is {name} "
            f"(UTC{_hours(district)}); the kiosk shows the district's time — set the system zone with "
            f"timedatectl set-timezone {name} so logs agree")


def _hours(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta()).total_seconds() // 60)
    return f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
