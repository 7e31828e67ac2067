"""A real shell on the (offscreen) Kivy window, with demo settings in a temporary data directory."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    """:class:`app.kiosk_app.HeadlessShell` over demo settings, one per test module."""
    from app.kiosk_app import HeadlessShell
    from kiosk.context import build_context
    from kiosk.settings import load_settings

    from app.demo import DemoRig

    data = tmp_path_factory.mktemp("kiosk-data")
    settings = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(data)})
    # Demo mode's sample-card buttons show, as in the tour; the rig's own files (device links, its
    # roster) live beside the kiosk's data directory, not in it.
    rig = DemoRig(load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(tmp_path_factory.mktemp("demo-rig"))}))
    rig.start()
    ctx = build_context(settings)
    ctx.services["demo"] = rig
    h = HeadlessShell(ctx)
    yield h
    h.close()
    ctx.close()
    rig.stop()
