"""Issue 11, item 19: every probe validates its numbers and fails in one form.

Before, ``--timeout nan`` made ``probe bp --driver ascii-line`` wait forever, and probes reported
errors three ways (JSON on stdout, JSON on stderr, plain text). Now a bad number is a usage error
(exit 2) at once, and every failure is one JSON object on stdout (``ok`` false, ``probe``,
``error``, ``message``) plus one ``yizhan probe NAME: error: …`` line on stderr.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBES = {
    "bp": ["--driver", "ascii-line", "--port", "loop://"],
    "glucose": ["--driver", "onetouch-ultra2", "--port", "loop://"],
    "idcard": ["--port", "loop://"],
    "pcsc": ["--reader", "none"],
    "qr": ["--source", "/nonexistent-folder"],
}
BAD = ["nan", "NaN", "inf", "-inf", "-1", "0", "1e9", "abc", ""]


def probe(name: str, *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIZHAN_") and k != "DISPLAY"}
    return subprocess.run([sys.executable, "-m", "app.cli", "probe", name, *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def one_form(res: subprocess.CompletedProcess, name: str) -> dict:
    docs = [json.loads(line) for line in res.stdout.splitlines() if line.strip()]
    assert len(docs) == 1, res.stdout
    doc = docs[0]
    assert doc["ok"] is False and doc["probe"] == name and doc["error"] and doc["message"]
    assert res.stderr.strip().splitlines()[-1] == f"yizhan probe {name}: error: {doc['message']}"
    assert "Traceback" not in res.stderr
    return doc


@pytest.mark.parametrize("name", sorted(PROBES))
@pytest.mark.parametrize("bad", BAD)
def test_a_bad_timeout_is_a_usage_error_at_once(name, bad):
    res = probe(name, *PROBES[name], f"--timeout={bad}")
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "--timeout" in one_form(res, name)["message"]


@pytest.mark.parametrize("name", ["bp", "glucose", "idcard"])
def test_a_bad_baud_rate_is_a_usage_error(name):
    res = probe(name, *PROBES[name], "--baud", "fast")
    assert res.returncode == 2 and "--baud" in one_form(res, name)["message"]


@pytest.mark.parametrize("name", sorted(PROBES))
def test_a_device_failure_has_the_same_form(name):
    args = {"bp": ["--driver", "oem-nibp", "--port", "/nonexistent/ttyBP", "--timeout", "2"],
            "glucose": ["--driver", "onetouch-ultra2", "--port", "/nonexistent/ttyG", "--timeout", "2"],
            "idcard": ["--port", "/nonexistent/ttyID", "--timeout", "2"],
            "pcsc": ["--reader", "no-such-reader", "--timeout", "1"],
            "qr": ["--source", "/nonexistent-folder", "--timeout", "1"]}[name]
    res = probe(name, *args)
    assert res.returncode == 1, (res.stdout, res.stderr)
    one_form(res, name)
