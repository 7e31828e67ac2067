"""The udev rules: well-formed for udevadm, and giving each supported adapter its stable name.

udev cannot be exercised with real USB adapters here, so the rules are checked twice: ``udevadm
test`` parses them as udev does (in a private mount namespace, with the rules in
``/run/udev/rules.d``), and a small evaluator of the subset of the rule language they use applies
them to the documented adapters.
"""
from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "deploy/udev/70-yizhan.rules"
TOKEN = re.compile(r'\s*(?P<key>[A-Z]+)(?:\{(?P<attr>[^}]+)\})?\s*(?P<op>==|!=|\+=|-=|:=|=)\s*"(?P<value>[^"]*)"\s*(?:,|$)')
MATCH_KEYS = {"ACTION", "SUBSYSTEM", "KERNEL", "ATTRS", "ENV"}
ASSIGN_KEYS = {"SYMLINK", "GROUP", "MODE", "GOTO", "LABEL", "OPTIONS"}


def parse(text: str) -> list[list[tuple[str, str | None, str, str]]]:
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        tokens, pos = [], 0
        while pos < len(line):
            m = TOKEN.match(line, pos)
            assert m, f"line {number}: cannot parse at {line[pos:]!r}"
            tokens.append((m["key"], m["attr"], m["op"], m["value"]))
            pos = m.end()
        for key, _attr, op, _value in tokens:
            assert key in MATCH_KEYS | ASSIGN_KEYS, f"line {number}: unexpected key {key}"
            assert (op in ("==", "!=")) == (key in MATCH_KEYS), f"line {number}: {key} with {op}"
        rules.append(tokens)
    return rules


def apply(rules, device: dict) -> dict:
    """Symlinks, group and mode the rules give ``device`` (keys: ACTION, SUBSYSTEM, KERNEL, ENV, ATTRS)."""
    out: dict = {"SYMLINK": []}
    skip_to = None
    for tokens in rules:
        if skip_to is not None:
            if tokens[0][0] == "LABEL" and tokens[0][3] == skip_to:
                skip_to = None
            continue
        ok = True
        for key, attr, op, value in tokens:
            if key in MATCH_KEYS:
                have = device.get(key, {}).get(attr, "") if attr else device.get(key, "")
                ok = ok and (fnmatch.fnmatchcase(have, value) == (op == "=="))
        if not ok:
            continue
        for key, _attr, _op, value in tokens:
            if key == "SYMLINK":
                out["SYMLINK"].append(value)
            elif key in ("GROUP", "MODE"):
                out[key] = value
            elif key == "GOTO":
                skip_to = value
    return out


def tty(vendor: str, product: str, serial: str = "") -> dict:
    return {"ACTION": "add", "SUBSYSTEM": "tty", "KERNEL": "ttyUSB0",
            "ATTRS": {"idVendor": vendor, "idProduct": product, "serial": serial}}


@pytest.mark.parametrize(("device", "link"), [
    (tty("1a86", "7523"), "yizhan/idcard"),
    (tty("10c4", "ea60", "0001"), "yizhan/bp"),
    (tty("0403", "6001", "A50285BI"), "yizhan/bp"),
    (tty("067b", "2303"), "yizhan/glucose"),
    (tty("10c4", "8a5e"), "yizhan/glucose"),
    ({"ACTION": "add", "SUBSYSTEM": "usbmisc", "KERNEL": "lp0", "ATTRS": {"idVendor": "0416", "idProduct": "5011"}},
     "yizhan/printer"),
])
def test_each_supported_adapter_gets_its_stable_name_for_the_kiosk_group(device, link):
    got = apply(parse(RULES.read_text()), device)
    assert got == {"SYMLINK": [link], "GROUP": "yizhan", "MODE": "0660"}


def test_other_devices_and_removals_are_left_alone():
    rules = parse(RULES.read_text())
    assert apply(rules, tty("2341", "0043")) == {"SYMLINK": []}                      # an Arduino
    assert apply(rules, {**tty("1a86", "7523"), "ACTION": "remove"}) == {"SYMLINK": []}
    usb_printer = {"ACTION": "add", "SUBSYSTEM": "usb", "ENV": {"DEVTYPE": "usb_device"},
                   "ATTRS": {"idVendor": "04b8", "idProduct": "0202"}}
    assert apply(rules, usb_printer) == {"SYMLINK": [], "GROUP": "yizhan", "MODE": "0660"}    # libusb access


def test_udevadm_parses_the_rules_without_complaint(tmp_path):
    script = (f"mkdir -p /run/udev/rules.d && mount -t tmpfs tmpfs /run/udev/rules.d && "
              f"cp {RULES} /run/udev/rules.d/ && udevadm test --action=add /sys/class/tty/tty")
    result = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True)
    ours = [line for line in (result.stdout + result.stderr).splitlines() if "70-yizhan.rules" in line]
    assert any(line.startswith("Reading rules file") for line in ours), result.stderr[-2000:]
    problems = [line for line in ours if not line.startswith("Reading rules file")
                and "Unknown group 'yizhan'" not in line]       # the group exists once the package is installed
    assert problems == []
