"""Every workbench string has Chinese; ``yizhan hub user`` manages accounts; reviews can be refused
from the command line too; screening statistics are per station and month."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from hub.reviews import pending_reviews
from hub.screening import ScreeningError, month_bounds, station_month
from hub.store import HubStore
from hub.web.accounts import SignInRefused, sign_in
from hub.web.audit import ACTION_WORDS as AUDIT_WORDS
from hub.web.demo import STATIONS, seed
from hub.web.i18n import ZH, translator
from hub.timebank import needs_review, review_shift
from hub.web.view import KIND_WORDS
from hub.web.work import ACTION_WORDS
from kiosk.i18n import gettext

WEB = Path(__file__).resolve().parents[3] / "hub" / "web"
ROOT = WEB.parents[1]


def _msgids() -> set[str]:
    found: set[str] = set()
    for path in (WEB / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'_\("((?:[^"\\]|\\.)*)"', text)) | set(re.findall(r"_\('((?:[^'\\]|\\.)*)'", text))
    for path in WEB.rglob("*.py"):
        found |= set(re.findall(r'ctx\._\("((?:[^"\\]|\\.)*)"\s*[,)]', path.read_text(encoding="utf-8")))
    return found | set(ACTION_WORDS.values()) | set(KIND_WORDS.values()) | set(AUDIT_WORDS.values())


def test_every_workbench_string_has_a_chinese_translation():
    ids = _msgids()
    assert len(ids) > 150
    missing = sorted(i for i in ids if i not in ZH and gettext(i, "zh_CN") == i)
    assert missing == []


def test_english_is_the_message_id_and_placeholders_fill_in():
    assert translator("en")("Today at station {station}", station="x") == "Today at station x"
    assert translator("zh")("Today at station {station}", station="x") == "驿站 x 今日"


def _yizhan(*args, env=None, stdin=""):
    return subprocess.run([sys.executable, "-m", "app.cli", "hub", *args], capture_output=True, text=True,
                          input=stdin, env={**os.environ, **(env or {})}, cwd=ROOT, timeout=60)


@pytest.mark.slow
def test_user_command_adds_changes_and_disables_accounts(tmp_path):
    db = str(tmp_path / "hub.sqlite3")
    pw = {"YIZHAN_USER_PASSWORD": "first-password-1"}
    r = _yizhan("user", "add", "li", "--role", "staff", "--station", STATIONS[0], "--db", db, env=pw)
    assert r.returncode == 0, r.stderr
    r = _yizhan("user", "add", "li", "--role", "staff", "--station", STATIONS[0], "--db", db, env=pw)
    assert r.returncode == 1 and "taken" in r.stderr
    r = _yizhan("user", "add", "bad", "--role", "staff", "--db", db, env=pw)
    assert r.returncode == 1 and "at least one station" in r.stderr
    engine = HubStore(db).engine
    sign_in(engine, "li", "first-password-1", "test")
    assert _yizhan("user", "passwd", "li", "--db", db, env={"YIZHAN_USER_PASSWORD": "second-password-2"}).returncode == 0
    with pytest.raises(SignInRefused):
        sign_in(engine, "li", "first-password-1", "test")
    sign_in(engine, "li", "second-password-2", "test")
    assert _yizhan("user", "disable", "li", "--db", db).returncode == 0
    with pytest.raises(SignInRefused):
        sign_in(engine, "li", "second-password-2", "test")
    listing = _yizhan("user", "list", "--db", db).stdout
    assert "li" in listing and "disabled" in listing and "password" not in listing


@pytest.mark.slow
def test_review_can_be_refused_from_the_command_line(tmp_path):
    db = str(tmp_path / "hub.sqlite3")
    seed(HubStore(db).engine, accounts=False)
    (item,) = pending_reviews(db)
    r = _yizhan("review", item["record_id"], "--reject", "不在岗", "--db", db)
    assert r.returncode == 0, r.stderr
    assert pending_reviews(db) == []
    assert item["record_id"] not in _yizhan("review", "--db", db).stdout


@pytest.mark.slow
def test_screening_statistics_per_station_and_month(tmp_path):
    engine = HubStore(str(tmp_path / "hub.sqlite3")).engine
    seed(engine, accounts=False)
    month = (datetime.now(timezone(timedelta(hours=8))) - timedelta(days=3)).strftime("%Y-%m")
    stats = station_month(engine, month)
    assert set(stats) <= set(STATIONS)
    s = stats[STATIONS[0]]
    assert s["measurements"] >= s["residents"] > 0
    assert sum(s["categories"].values()) == s["measurements"]
    assert station_month(engine, month, (STATIONS[1],)).keys() == {STATIONS[1]}
    assert month_bounds("2026-02", "Asia/Shanghai") == ("2026-01-31T16:00:00.000+00:00", "2026-02-28T16:00:00.000+00:00")
    with pytest.raises(ScreeningError):
        month_bounds("2026-13")


def test_pending_reviews_answer_what_needs_review_answers(tmp_path):
    db = str(tmp_path / "hub.sqlite3")
    seed(HubStore(db).engine, accounts=False)
    assert pending_reviews(db) == needs_review(db) != []
    assert pending_reviews(db, (STATIONS[1],)) == []
    review_shift(db, needs_review(db)[0]["record_id"], 1.0, "test")
    assert pending_reviews(db) == needs_review(db) == []


@pytest.mark.slow
def test_the_wish_board_commands_still_work_beside_the_page(tmp_path):
    db = str(tmp_path / "hub.sqlite3")
    seed(HubStore(db).engine, accounts=False)
    for step in (("publish",), ("claim", "--claimed-by", "张江科技公司", "--kind", "unit"),
                 ("fulfil", "--note", "手机课 12月5日 开课")):
        r = _yizhan("wishes", step[0], "wish-demo-1", *step[1:], "--no-publish", "--db", db)
        assert r.returncode == 0, r.stderr
    r = _yizhan("wishes", "claim", "wish-demo-1", "--claimed-by", "x", "--no-publish", "--db", db)
    assert r.returncode == 2 and "fulfilled" in r.stderr
    listing = _yizhan("wishes", "--all", "--db", db).stdout
    assert "wish-demo-1" in listing and "手机课 12月5日 开课" in listing and "张江科技公司" in listing
