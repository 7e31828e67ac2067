"""Issue 22 item 7: sign-in against the real workbench server. Forwarded headers count only from
proxies the operator lists; a name is locked per (name, address), so no one can lock ``admin`` out
from elsewhere; repeated failures of a name from anywhere slow it down instead; the administrator
has a way in from the hub's console (``yizhan hub user unlock``)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hub.web import accounts
from hub.web.app import create_app
from hub.web.server import BackgroundServer
from tests.hub.web.conftest import PASSWORD, Client, make_workbench
from tests.sync.helpers import ROOT


@pytest.fixture()
def served(tmp_path):
    """The workbench twice over one database: plain, and behind a listed proxy (127.0.0.1)."""
    wb = make_workbench(str(tmp_path / "hub.sqlite3"))
    plain = BackgroundServer(create_app(wb)).start()
    proxied = BackgroundServer(create_app(wb), trusted_proxies=("127.0.0.1",)).start()
    yield wb, plain, proxied
    plain.stop()
    proxied.stop()
    wb.store.close()


def _addresses(wb) -> list[str]:
    with wb.engine.connect() as conn:
        return [a for (a,) in conn.exec_driver_sql("SELECT address FROM web_login_attempts ORDER BY id")]


def _sign_in_from(client: Client, address: str, username: str, password: str):
    client.http.headers["X-Forwarded-For"] = address
    return client.sign_in(username, password)


def test_a_forwarded_address_counts_only_from_a_listed_proxy(served):
    """Before: uvicorn believed X-Forwarded-For from 127.0.0.1, so a client of a same-host proxy
    named any address it liked and rotated past the per-address limit."""
    wb, plain, proxied = served
    c = Client(plain.url)
    for i in range(3):
        assert _sign_in_from(c, f"203.0.113.{i}", "jiedao", "wrong-password").status_code == 401
    assert _addresses(wb) == ["127.0.0.1"] * 3
    p = Client(proxied.url)
    assert _sign_in_from(p, "198.51.100.7", "jiedao", "wrong-password").status_code == 401
    assert _addresses(wb)[-1] == "198.51.100.7"                 # the listed proxy is believed


def test_failures_from_elsewhere_do_not_lock_admin_out(served):
    """Before: five wrong tries from anywhere locked ``admin`` for 15 minutes, again and again."""
    wb, _plain, proxied = served
    attacker, owner = Client(proxied.url), Client(proxied.url)
    for _ in range(accounts.MAX_FAILURES):
        assert _sign_in_from(attacker, "192.0.2.66", "admin", "wrong-password").status_code == 401
    refused = _sign_in_from(attacker, "192.0.2.66", "admin", PASSWORD)
    assert refused.status_code == 401 and "登录失败次数过多" in refused.text       # that pair is locked
    assert _sign_in_from(owner, "192.0.2.10", "admin", PASSWORD).status_code == 303   # the owner gets in
    assert accounts.sign_in_delay(accounts.MAX_FAILURES + 3) == 8 * accounts.FIRST_DELAY_S
    assert accounts.sign_in_delay(50) == accounts.MAX_DELAY_S


def test_the_administrator_unlocks_from_the_hubs_console(served):
    wb, plain, _proxied = served
    c = Client(plain.url)
    for _ in range(accounts.MAX_FAILURES):
        c.sign_in("admin", "wrong-password")
    assert c.sign_in("admin").status_code == 401
    db = str(wb.engine.url.database)
    out = subprocess.run([sys.executable, "-m", "app.cli", "hub", "user", "unlock", "admin", "--db", db],
                         capture_output=True, text=True, cwd=ROOT, env=dict(os.environ), timeout=60)
    assert out.returncode == 0, out.stderr
    assert c.sign_in("admin").status_code == 303
