"""Hardware drivers: one module per device model, framing shared in ``drivers/protocols/``.

``DRIVERS`` is the explicit registry of driver names (what installers type in ``config/`` and
on the command line) to ``module:Class``. Adding a device = one module + one line here
(see CONTRIBUTING in the README).
"""
from __future__ import annotations

import importlib

#: kind -> driver name -> "module:Class"
DRIVERS: dict[str, dict[str, str]] = {
    "idcard": {
        "sam": "drivers.idcard_sam:IdCardReader",
    },
    "pcsc": {
        "pcsc": "drivers.pcsc:PcscReader",
    },
    "camera": {
        "opencv": "drivers.qr:QrScanner",
    },
    "bp": {
        "omron-hbp9030": "drivers.omron_hbp9030:OmronHBP9030",
        "maibobo": "drivers.maibobo:Maibobo",
        "oem-nibp": "drivers.oem_nibp:OemNibp",
        "ascii-line": "drivers.ascii_line:AsciiLine",
    },
    "glucose": {
        "onetouch-ultra2": "drivers.onetouch_ultra2:OneTouchUltra2",
        "astm": "drivers.astm_meter:AstmMeter",
        "sd-codefree": "drivers.sd_codefree:SdCodeFree",
    },
}


class UnknownDriver(LookupError):
    """No driver of that kind has that name."""


def driver_names(kind: str) -> list[str]:
    """The registered driver names of one device kind, sorted."""
    return sorted(DRIVERS.get(kind, {}))


def load_driver(kind: str, name: str) -> type:
    """Import and return the driver class registered as ``name`` for ``kind``.

    Raises:
        UnknownDriver: with the list of valid names.
    """
    try:
        target = DRIVERS[kind][name]
    except KeyError:
        raise UnknownDriver(f"no {kind} driver named {name!r}; known: {', '.join(driver_names(kind)) or 'none'}") from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)
