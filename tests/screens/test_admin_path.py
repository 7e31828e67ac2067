"""The admin page shows where the journal lives in one line, whatever the data directory's length."""
from __future__ import annotations

from screens.admin import short_path


def test_a_short_data_directory_is_shown_whole():
    assert short_path("/var/lib/yizhan") == "/var/lib/yizhan"


def test_a_long_data_directory_keeps_its_root_and_its_last_two_parts():
    long = "/tmp/pytest-of-root/pytest-12/popen-gw2/kiosk-data0"
    shown = short_path(long)
    assert shown == "/tmp/…/popen-gw2/kiosk-data0"
    assert len(shown) < len(long)
