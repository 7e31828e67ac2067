"""Camera QR: decoding generated frames, image folders and a video file; the scanner thread; probe + sim CLI."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from drivers.qr import (BadFrame, ImageFolderSource, MissingQrBackend, QrDecoded,
                        QrScanner, QrSourceError, ScannerStatus, VideoFileSource, decode_qr, open_source)
from drivers.sim.qr import blank_frame, make_token_image, write_image_folder, write_video
from kiosk.i18n import gettext
from kiosk.tokens import issue_token

KEY = bytes(range(32))
KEY_HEX = KEY.hex()
GUARD = 15.0        # hang guard only


def _token(kind="volunteer", subject="V-42", ttl=3600, now=None) -> str:
    return issue_token(KEY, kind, subject, ttl, "st-1", now=now)


# -- decode_qr --------------------------------------------------------------------------------
def test_decode_generated_token_frame():
    text = _token("resident", "ab" * 32)
    frame = make_token_image(text, noise=0.03)
    assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
    assert decode_qr(frame) == [text]


@pytest.mark.parametrize("convert", [
    lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY),
    lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2BGRA),
    lambda f: cv2.cvtColor(f, cv2.COLOR_BGR2GRAY)[:, :, None],
])
def test_decode_gray_and_bgra(convert):
    assert decode_qr(convert(make_token_image("YZ-test 1"))) == ["YZ-test 1"]


def test_decode_chinese_utf8():
    assert decode_qr(make_token_image("订单 0042 金额 12.50 元")) == ["订单 0042 金额 12.50 元"]


def test_two_codes_in_one_frame():
    left = make_token_image("left code", size=(400, 480), fill=0.5)
    right = make_token_image("right code", size=(400, 480), fill=0.5)
    assert sorted(decode_qr(np.hstack([left, right]))) == ["left code", "right code"]


@pytest.mark.parametrize("frame", [blank_frame(seed=1), np.zeros((480, 640, 3), np.uint8),
                                   np.full((480, 640), 255, np.uint8), np.zeros((5, 5), np.uint8)])
def test_no_qr_frames(frame):
    assert decode_qr(frame) == []


@pytest.mark.parametrize("frame", [None, "img", np.zeros((10, 10), np.float32), np.zeros((4, 4, 2), np.uint8),
                                   np.zeros((2, 2, 2, 2), np.uint8), np.zeros((0, 10), np.uint8)])
def test_bad_frames_are_typed(frame):
    with pytest.raises(BadFrame):
        decode_qr(frame)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.int8]),
                  shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=64)))
@pytest.mark.slow
def test_fuzz_decode_only_bad_frame(frame):
    try:
        assert isinstance(decode_qr(frame), list)
    except BadFrame:
        pass


def test_missing_backend(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", type("NoAruco", (), {"error": Exception})())   # too old an OpenCV
    result: queue.Queue = queue.Queue()

    def worker():              # a fresh thread: the detector is per thread
        try:
            decode_qr(np.zeros((100, 100), np.uint8))
        except Exception as exc:
            result.put(exc)

    t = threading.Thread(target=worker)
    t.start()
    t.join(GUARD)
    assert isinstance(result.get_nowait(), MissingQrBackend)
    monkeypatch.setitem(sys.modules, "cv2", None)        # OpenCV not installed at all: importing it fails
    with pytest.raises(MissingQrBackend):
        open_source("0")


def test_user_messages_have_chinese():
    for cls in (MissingQrBackend, QrSourceError, BadFrame):
        assert gettext(cls.user_message, "zh_CN") != cls.user_message, cls


# -- sources ------------------------------------------------------------------------------------
def test_image_folder_in_order(tmp_path):
    paths = write_image_folder(tmp_path / "imgs", ["one", None, "two"])
    assert [p.name for p in paths] == ["frame_0000.png", "frame_0001.png", "frame_0002.png"]
    (tmp_path / "imgs" / "frame_0001b.png").write_bytes(b"not a png")     # skipped, not fatal
    (tmp_path / "imgs" / "notes.txt").write_text("ignored")
    with open_source(tmp_path / "imgs") as src:
        assert isinstance(src, ImageFolderSource) and not src.live
        seen = []
        while (frame := src.read()) is not None:
            seen.append(decode_qr(frame))
    assert seen == [["one"], [], ["two"]]


def test_image_folder_loops_for_demo(tmp_path):
    write_image_folder(tmp_path, ["a", "b"])
    with open_source(str(tmp_path), loop=True) as src:
        assert [decode_qr(src.read()) for _ in range(5)] == [["a"], ["b"], ["a"], ["b"], ["a"]]


def test_single_image_file(tmp_path):
    (path,) = write_image_folder(tmp_path, ["solo"])
    with open_source(path) as src:
        assert decode_qr(src.read()) == ["solo"] and src.read() is None


def test_video_file(tmp_path):
    path = write_video(tmp_path / "clip.avi", [None, "first", "second"], frames_per_text=3)
    with open_source(str(path)) as src:
        assert isinstance(src, VideoFileSource)
        decoded = []
        while (frame := src.read()) is not None:
            decoded.append(tuple(decode_qr(frame)))
    assert decoded == [()] * 3 + [("first",)] * 3 + [("second",)] * 3


@pytest.mark.parametrize("spec", ["/nonexistent/video.avi", "97"])
def test_missing_sources(spec):
    with pytest.raises(QrSourceError) as exc:
        open_source(spec)
    assert exc.value.user_key == "camera_offline"


def test_empty_folder(tmp_path):
    with pytest.raises(QrSourceError, match="no images"):
        open_source(tmp_path)


# -- the scanner --------------------------------------------------------------------------------
class Collect:
    def __init__(self):
        self.items: list = []
        self.q: queue.Queue = queue.Queue()

    def __call__(self, item):
        self.items.append(item)
        self.q.put(item)


@pytest.mark.slow
def test_scanner_end_to_end_with_dedupe(tmp_path):
    a, b = _token(subject="V-A"), _token(subject="V-B")
    path = write_video(tmp_path / "desk.avi", [None, a, None, b, a], frames_per_text=4)
    results, frames, statuses = Collect(), Collect(), Collect()
    scanner = QrScanner(str(path), results, on_frame=frames, on_status=statuses, fps=None, dedupe_s=60)
    scanner.start()
    assert scanner.wait(GUARD)
    assert [r.text for r in results.items] == [a, b]                  # held code and re-shown code: once
    first = results.items[0]
    assert isinstance(first, QrDecoded) and first.frame_index == 4
    assert first.captured_at <= first.decoded_at
    assert scanner.frames_read == 20 and len(frames.items) == 20
    assert all(isinstance(f, np.ndarray) and f.shape == (480, 640, 3) for f in frames.items)
    assert [s.state for s in statuses.items] == ["running", "ended"]


def test_scanner_reports_a_held_code_once_per_window(tmp_path):
    text = _token()
    write_image_folder(tmp_path, [text], frames_per_text=9, noise=0)
    results = Collect()
    holder: dict = {}
    # Time in this test is "frames read so far": frame i is decoded at t = i + 1.
    scanner = QrScanner(tmp_path, results, fps=None, dedupe_s=4,
                        clock=lambda: float(holder["s"].frames_read) if "s" in holder else 0.0)
    holder["s"] = scanner
    scanner.start()
    assert scanner.wait(GUARD)
    assert [r.frame_index for r in results.items] == [0, 4, 8]


def test_scanner_preview_every_and_callback_errors(tmp_path):
    write_image_folder(tmp_path, [None, "x", None, "y"])
    got = Collect()

    def bad_result(item):
        got(item)
        raise RuntimeError("screen bug")

    previews = Collect()
    scanner = QrScanner(tmp_path, bad_result, on_frame=previews, fps=None, preview_every=2).start()
    assert scanner.wait(GUARD)
    assert [r.text for r in got.items] == ["x", "y"]                  # kept going after the exception
    assert len(previews.items) == 2


def test_scanner_missing_camera_retries_then_recovers(tmp_path):
    folder = tmp_path / "later"
    results, statuses = Collect(), Collect()
    scanner = QrScanner(folder, results, on_status=statuses, fps=None, retry_max_s=0.1).start()
    try:
        lost = statuses.q.get(timeout=GUARD)
        assert isinstance(lost, ScannerStatus) and lost.state == "camera_lost"
        assert isinstance(lost.error, QrSourceError) and scanner.running
        write_image_folder(tmp_path / "staging", ["back again"])
        os.rename(tmp_path / "staging", folder)                      # the "camera" appears atomically
        assert results.q.get(timeout=GUARD).text == "back again"
        assert scanner.wait(GUARD)
    finally:
        scanner.stop()
    assert [s.state for s in statuses.items] == ["camera_lost", "running", "ended"]


def test_scanner_stop_while_looping(tmp_path):
    write_image_folder(tmp_path, ["loop me"])
    results = Collect()
    scanner = QrScanner(tmp_path, results, fps=50, loop=True, dedupe_s=3600).start()
    assert results.q.get(timeout=GUARD).text == "loop me"
    scanner.stop(timeout=GUARD)
    assert not scanner.running
    assert len(results.items) == 1                                   # looped many times, reported once


# -- command line ---------------------------------------------------------------------------------
def _cli(*args: str, key: str | None = KEY_HEX) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "YIZHAN_DISTRICT_KEY"}
    if key is not None:
        env["YIZHAN_DISTRICT_KEY"] = key
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True,
                          env=env, timeout=60)


@pytest.mark.slow
def test_sim_then_probe_video(tmp_path):
    out = tmp_path / "tok.avi"
    sim = _cli("sim", "qr", "--out", str(out), "--token-kind", "resident", "--subject", "cd" * 32,
               "--station", "st-9")
    assert sim.returncode == 0, sim.stderr
    made = json.loads(sim.stdout)
    assert made["path"] == str(out) and made["frames"] == 15 and made["kind"] == "resident"
    probe = _cli("probe", "qr", "--source", str(out))
    assert probe.returncode == 0, probe.stderr
    doc = json.loads(probe.stdout)
    assert doc["verified"] is True and doc["kind"] == "resident" and doc["station"] == "st-9"
    assert doc["subject"] == "cdcdcdcd…cdcd" and "cd" * 32 not in probe.stdout
    assert doc["frames_read"] == 11 and doc["decode_ms"] > 0


@pytest.mark.slow
def test_probe_refusals(tmp_path):
    write_image_folder(tmp_path / "foreign", ["https://example.com/menu"])
    expired = _token(now=time.time() - 7200, ttl=3600)
    write_image_folder(tmp_path / "expired", [expired])
    write_image_folder(tmp_path / "blank", [None, None])
    good = tmp_path / "good"
    assert _cli("sim", "qr", "--out", str(good), "--token-kind", "volunteer", "--subject", "V-7",
                "--frames", "1", "--blank", "0").returncode == 0

    doc = json.loads((p := _cli("probe", "qr", "--source", str(good), key="11" * 32)).stdout)
    assert p.returncode == 3 and doc["refusal"] == "TokenForged" and doc["kind"] == "volunteer"
    doc = json.loads((p := _cli("probe", "qr", "--source", str(tmp_path / "expired"))).stdout)
    assert p.returncode == 3 and doc["refusal"] == "TokenExpired"
    doc = json.loads((p := _cli("probe", "qr", "--source", str(tmp_path / "foreign"))).stdout)
    assert p.returncode == 3 and doc["refusal"] == "TokenMalformed" and doc["kind"] is None
    doc = json.loads((p := _cli("probe", "qr", "--source", str(good), key=None)).stdout)
    assert p.returncode == 3 and doc["refusal"] == "NoDistrictKey"
    doc = json.loads((p := _cli("probe", "qr", "--source", str(tmp_path / "blank"))).stdout)
    assert p.returncode == 1 and doc["error"] == "NoCode" and doc["frames_read"] == 2
    doc = json.loads((p := _cli("probe", "qr", "--source", str(tmp_path / "nothing-here"))).stdout)
    assert p.returncode == 1 and doc["error"] == "QrSourceError"


def test_sim_cli_needs_key_and_valid_subject(tmp_path):
    assert _cli("sim", "qr", "--out", str(tmp_path / "x"), "--subject", "V-1", key=None).returncode == 2
    bad = _cli("sim", "qr", "--out", str(tmp_path / "x"), "--subject", "not-a-person-key")
    assert bad.returncode == 2 and "subject" in bad.stderr


@pytest.mark.slow
def test_noisy_frames_decode():
    text = _token(now=1_800_000_000)
    assert all(decode_qr(make_token_image(text, noise=0.03, seed=s)) == [text] for s in range(30))
