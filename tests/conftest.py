"""Shared fixtures: headless Kivy environment, ptys, a real Mosquitto, a real pcscd with vpcd.

Every fixture here is private to its test process, so the suite runs under pytest-xdist: a Kivy home,
a broker on a free port, a data directory of its own. pcscd with vpcd is machine-wide (fixed reader
ports): its tests share one ``xdist_group`` and a lock file (see ``pcscd``).
"""
from __future__ import annotations

import atexit
import fcntl
import os
import pathlib
import shutil
import sys
import tempfile
import threading

# Kivy reads these at import time: no argv parsing, no ~/.kivy, log through Python logging.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
if "KIVY_HOME" not in os.environ:          # one per test process: xdist workers never share its config.ini
    os.environ["KIVY_HOME"] = tempfile.mkdtemp(prefix="yizhan-test-kivy-home-")
    atexit.register(shutil.rmtree, os.environ["KIVY_HOME"], True)
os.environ.pop("DISPLAY", None)   # SDL renders offscreen through Mesa
# Demos started by parallel workers take any free workbench port, never the remembered one they would race for.
os.environ["YIZHAN_DEMO_ANY_PORT"] = "1"
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")   # no sound card: SDL mixes to nowhere, playback still runs

import pytest  # noqa: E402
import pytest_timeout  # noqa: E402
from _pytest._io import TerminalWriter  # noqa: E402

from tests.support.reaper import end_descendants  # noqa: E402
from tests.support.services import Mosquitto, Pcscd  # noqa: E402

#: Held while a test process uses pcscd + vpcd, so two test runs on one machine do not share the readers.
PCSCD_LOCK = pathlib.Path(tempfile.gettempdir()) / "yizhan-test-pcscd.lock"


#: Modules whose tests each take long enough to pay for their own module fixture on every xdist worker.
SPREAD_MODULES = {"tests/screens/test_audit.py"}


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (--dist loadgroup), the tests of a module with a module-scoped fixture (a Kivy
    shell, a workbench, a browser rig) stay on one worker, which builds that fixture once; the others
    are spread one by one."""
    for item in items:
        module = item.nodeid.split("::")[0]
        if module in SPREAD_MODULES or item.get_closest_marker("xdist_group"):
            continue
        defs = getattr(item, "_fixtureinfo", None)
        if defs and any(d[-1].scope == "module" for d in defs.name2fixturedefs.values()):
            item.add_marker(pytest.mark.xdist_group(module))


def pytest_sessionfinish(session):
    """End, by PID, any process a test or fixture left running (the fixtures' teardown should have)."""
    if session.config.pluginmanager.getplugin("dsession"):   # the xdist controller: its workers do this
        return
    left = end_descendants()
    if left:      # on stderr: an xdist worker's terminal output does not reach the terminal
        sys.stderr.write("conftest: ended processes the tests left running:\n  " + "\n  ".join(left) + "\n")


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item, settings):
    """pytest-timeout's thread method with :func:`_timed_out` as its handler."""
    if settings.method != "thread":
        return None
    timer = threading.Timer(settings.timeout, _timed_out, (item, settings))
    timer.name = f"pytest_timeout {item.nodeid}"

    def cancel():
        timer.cancel()
        timer.join()

    item.cancel_timeout = cancel
    timer.start()
    return True


def _timed_out(item, settings) -> None:
    """A test ran past the timeout: write every thread's stack to stderr (under pytest-xdist it reaches the
    terminal too), end the processes this test process started by PID, then end this process (xdist
    reports the test as failed and starts a new worker)."""
    if not settings.disable_debugger_detection and pytest_timeout.is_debugging():
        return
    capman = item.config.pluginmanager.getplugin("capturemanager")
    if capman:
        capman.suspend_global_capture(item)
    terminal = TerminalWriter(sys.stderr)
    try:
        terminal.sep("+", title=f"Timeout: {item.nodeid} ran over {settings.timeout:g} s")
        pytest_timeout.dump_stacks(terminal)
        left = end_descendants(grace=1.0)
        terminal.sep("+", title=f"Timeout: ended {len(left)} processes it had started" + ": " * bool(left))
        for line in left:
            terminal.line(line)
    finally:
        sys.stderr.flush()
        os._exit(1)


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


@pytest.fixture(scope="module")
def pcscd():
    """A real pcscd with vsmartcard's vpcd readers for the module, under a machine-wide lock file.

    vpcd's readers listen on fixed ports, so a module using this fixture must carry
    ``pytest.mark.xdist_group("pcscd")`` (one worker runs them all; ``make test`` uses --dist loadgroup).
    """
    with open(PCSCD_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)      # another test run on this machine may hold the readers now
        daemon = Pcscd().start()
        try:
            yield daemon
        finally:
            daemon.stop()
