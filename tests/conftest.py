"""Shared fixtures: headless Kivy environment, ptys, a real Mosquitto, a real pcscd with vpcd."""
from __future__ import annotations

import os
import pathlib
import tempfile

# Kivy reads these at import time: no argv parsing, no ~/.kivy, log through Python logging.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
os.environ.setdefault("KIVY_HOME", str(pathlib.Path(tempfile.gettempdir()) / "yizhan-test-kivy-home"))
os.environ.pop("DISPLAY", None)   # SDL renders offscreen through Mesa
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")   # no sound card: SDL mixes to nowhere, playback still runs

import pytest  # noqa: E402

from tests.support.services import Mosquitto, Pcscd  # noqa: E402


@pytest.fixture()
def nursery():
    """Needed by kivy.tests.fixtures.kivy_app (trio only)."""


@pytest.fixture()
def data_dir(tmp_path) -> pathlib.Path:
    """An empty data directory."""
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture()
def settings(data_dir):
    """Demo settings with data in a temporary directory."""
    from kiosk.settings import load_settings
    return load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(data_dir)})


@pytest.fixture()
def mosquitto(tmp_path):
    """A real Mosquitto on a free loopback port, stopped by PID afterwards."""
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def pcscd():
    """A real pcscd with vsmartcard's vpcd readers for the whole session."""
    daemon = Pcscd().start()
    yield daemon
    daemon.stop()
