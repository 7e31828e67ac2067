"""Generic ASCII-line driver: configured patterns, recorded lines, errors."""
from __future__ import annotations

import pytest

from drivers.ascii_line import AsciiLine, parse_line
from drivers.bp_common import DriverConfigError, ImplausibleReading
from drivers.errors import DeviceReportedError, DeviceTimeout, InvalidResponse
from drivers.protocols.lines import LineTooLong
from tests.drivers.helpers_bp import FakePort, attach


class Fast(AsciiLine):
    POLL = 0.01


def measure(stream: bytes, **options):
    options.setdefault("wait_s", 0.2)
    dev = attach(Fast("loop://", options=options), FakePort(initial=stream))
    return dev.measure()


@pytest.mark.parametrize("line", [b"SYS:128 DIA: 82 PUL: 71 mmHg\r\n", b"SYS 128, DIA 82, PR 71\r\n",
                                  b"sys=128 dia=82 pulse=71\n"])
def test_default_pattern(line):
    r = measure(line)
    assert (r.systolic, r.diastolic, r.pulse) == (128, 82, 71)
    assert r.device.driver == "ascii-line"


def test_configured_pattern_without_pulse_and_header_lines_skipped():
    stream = b"== BP MONITOR ==\r\n\r\nR 1: 145/92 mmHg\r\n"
    r = measure(stream, pattern=r"(?P<sys>\d+)/(?P<dia>\d+)")
    assert (r.systolic, r.diastolic, r.pulse) == (145, 92, None)


@pytest.mark.parametrize("pattern", ["(?P<sys>\\d+", "(?P<sys>\\d+)/(\\d+)", "(?P<sys>\\d+)/(?P<dia>\\d+) (?P<temp>\\d+)"])
def test_bad_pattern_is_a_config_error_at_construction(pattern):
    with pytest.raises(DriverConfigError) as info:
        AsciiLine("loop://", options={"pattern": pattern})
    assert info.value.user_key == "bp_config"


def test_unknown_encoding():
    with pytest.raises(DriverConfigError):
        AsciiLine("loop://", options={"encoding": "no-such-codec"})


def test_error_line():
    with pytest.raises(DeviceReportedError) as info:
        measure(b"ERR 3\r\n")
    assert info.value.code == "3"


BAD = [
    ("line that never matches, then silence", b"SYS:1X8 DIA: 82\r\n", InvalidResponse),
    ("out of range", b"SYS:300 DIA:82 PUL:70\r\n", ImplausibleReading),
    ("diastolic above systolic", b"SYS:80 DIA:120 PUL:70\r\n", ImplausibleReading),
    ("half a line", b"SYS:128 DI", InvalidResponse),
    ("nothing at all", b"", DeviceTimeout),
    ("endless bytes without LF", b"x" * 600, LineTooLong),
]


@pytest.mark.parametrize("why,stream,error", BAD, ids=[b[0] for b in BAD])
def test_malformed(why, stream, error):
    with pytest.raises(error):
        measure(stream)


def test_group_matching_non_digits_is_invalid():
    import re
    with pytest.raises(InvalidResponse):
        parse_line("S=12a D=80", re.compile(r"S=(?P<sys>\w+) D=(?P<dia>\d+)"))


def test_unmatched_line_evidence_redacts_id_numbers():
    with pytest.raises(InvalidResponse) as info:
        measure(b"ID 11010519491231002X no reading\r\n")
    assert "11010519491231002X" not in str(info.value)
