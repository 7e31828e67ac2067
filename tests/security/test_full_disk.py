"""Issue 11, item 18 (a full disk while the kiosk runs): staff see 存储已满 in the header, the log says
so once a minute, and a failed log write is one line on stderr per minute, not a traceback per
record. The disk is a real 4 MiB tmpfs, filled to the last byte while the kiosk runs.
"""
from __future__ import annotations

import logging
import os
import subprocess

import pytest

from kiosk.journal import StorageFull
from kiosk.logs import setup_logging
from kiosk.records import Visit
from kiosk.storage import StorageWatch
from tests.security.test_secrets_and_modes import fill_up


@pytest.fixture()
def tiny_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root; the test rig runs tests as root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_is_shown_to_staff_and_logged_once_a_minute(tiny_disk, capfd):
    from app.kiosk_app import HeadlessShell
    from kiosk.context import build_context
    from kiosk.settings import load_settings

    settings = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(tiny_disk / "data")})
    setup_logging(settings.data_dir)
    ctx = build_context(settings)
    h = HeadlessShell(ctx)
    now = [0.0]
    watch = StorageWatch(settings.data_dir, ctx.status, clock=lambda: now[0])
    try:
        assert not watch.check()
        h.shell.tick()
        assert "存储已满" not in h.shell.sync_text
        filler = fill_up(tiny_disk)
        with pytest.raises(StorageFull):
            for i in range(2000):                          # the journal's free pages run out too
                ctx.journal.append(Visit(person_key=f"{i:064x}", source="idcard", role="resident"))
        for _ in range(30):                                # 30 checks and many failing log writes in "a minute"
            now[0] += 1.0
            watch.check()
            logging.getLogger("kiosk.devices").info("something worth logging")
        h.shell.tick()
        assert "存储已满" in h.shell.sync_text
        err = capfd.readouterr().err
        assert err.count("storage full under") == 1, err
        assert err.count("cannot be written: the disk is full") <= 1 and "Traceback" not in err
        now[0] += 61
        watch.check()
        assert capfd.readouterr().err.count("storage full under") == 1      # once a minute
        filler.unlink()
        now[0] += 1
        assert not watch.check()
        h.shell.tick()
        assert "存储已满" not in h.shell.sync_text
        ctx.journal.append(Visit(person_key="f" * 64, source="idcard", role="resident"))   # writes work again
    finally:
        h.close()
        ctx.close()
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "_yizhan", False):
                logging.getLogger().removeHandler(handler)
                handler.close()
