"""Fixtures of the workbench tests: a demo hub database, the workbench on a free port, sessions."""
from __future__ import annotations

import re
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import requests

from app.demo_hub import HubProcess
from hub.web.app import BrokerOptions, Workbench, create_app
from hub.web.demo import STATIONS, seed
from hub.web.server import BackgroundServer
from hub.web.tour import chromium
from kiosk.journal import Journal
from sync.publisher import Publisher
from tests.support.services import Mosquitto
from tests.support.signing import HUB_KEY
from tests.sync.helpers import load, station_config

PASSWORD = "yizhan-demo-2026"


def make_workbench(db: str, broker: BrokerOptions | None = None) -> Workbench:
    """A workbench over ``db`` with the demo day seeded (Secure cookies kept: Chromium keeps them on
    127.0.0.1; the ``requests`` helper below copes)."""
    wb = Workbench(db=db, broker=broker or BrokerOptions(), issuer="浦东新区张江镇市民驿站", secure_cookies=False,
                   signing_key=HUB_KEY)
    seed(wb.engine)
    return wb


@contextmanager
def browser_rig(tmp: Path, station: str = STATIONS[0]):
    """A real Mosquitto, a hub process, the workbench (publishing to the broker) on a free port, a
    kiosk journal with its publisher at ``station``, and one headless Chromium; all stopped after.

    Yields a dict: ``wb``, ``url``, ``driver``, ``journal``, ``publisher``, ``data_dir``.
    """
    with ExitStack() as stack:           # whatever started is stopped, also when a later start fails
        broker = Mosquitto(tmp / "mosquitto").start()
        stack.callback(broker.stop)
        db = str(tmp / "hub.sqlite3")
        wb = make_workbench(db, BrokerOptions(host=broker.host, port=broker.port))
        stack.callback(wb.store.close)
        hub = HubProcess(db, broker.host, broker.port, log_file=tmp / "hub.log").start()
        stack.callback(hub.stop)
        server = BackgroundServer(create_app(wb)).start()
        stack.callback(server.stop)
        data_dir = tmp / "kiosk"
        data_dir.mkdir()
        settings = load(station_config(tmp / "station.toml", station, broker.port), data_dir)
        journal = Journal(data_dir / Journal.FILENAME, station)
        stack.callback(journal.close)
        publisher = Publisher(settings, poll_s=0.05, reconnect_max_s=2)
        publisher.start()
        stack.callback(publisher.stop)
        driver = chromium()
        stack.callback(driver.quit)
        yield {"wb": wb, "url": server.url, "driver": driver, "journal": journal, "publisher": publisher,
               "data_dir": data_dir}


class Client:
    """A signed-in ``requests`` session that knows the page's CSRF token (what a crafted request can do)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.csrf = ""

    def sign_in(self, username: str, password: str = PASSWORD) -> requests.Response:
        page = self.http.get(self.base + "/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        resp = self.http.post(self.base + "/login", data={"username": username, "password": password, "csrf": token,
                                                          "next": "/"}, allow_redirects=False)
        if resp.status_code == 303:
            self.csrf = re.search(r'name="csrf" value="([^"]+)"', self.get("/stations").text).group(1)
        return resp

    def get(self, path: str, **kw) -> requests.Response:
        return self.http.get(self.base + path, allow_redirects=False, **kw)

    def post(self, path: str, data: dict | None = None, csrf: str | None = None, **kw) -> requests.Response:
        body = {"csrf": self.csrf if csrf is None else csrf, **(data or {})}
        return self.http.post(self.base + path, data=body, allow_redirects=False, **kw)


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """The workbench over a seeded demo database (no broker), served on a free port."""
    wb = make_workbench(str(tmp_path_factory.mktemp("wb") / "hub.sqlite3"))
    server = BackgroundServer(create_app(wb)).start()
    yield wb, server
    server.stop()
    wb.store.close()
