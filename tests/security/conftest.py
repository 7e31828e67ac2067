"""A real shell on the (offscreen) Kivy window over demo settings, one per test module."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    """:class:`app.kiosk_app.HeadlessShell` over demo settings in a temporary data directory."""
    from app.kiosk_app import HeadlessShell
    from kiosk.context import build_context
    from kiosk.settings import load_settings

    data = tmp_path_factory.mktemp("kiosk-data")
    settings = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(data)})
    ctx = build_context(settings)
    h = HeadlessShell(ctx)
    yield h
    h.close()
    ctx.close()
