"""The processes a test process started, found in ``/proc`` and ended by PID.

The fixtures stop what they start in their teardown; this is the net under them: at the end of a
session (``pytest_sessionfinish``) and when pytest-timeout is about to end a hung test process, every
descendant still running is sent SIGTERM, then SIGKILL, by its PID. Nothing is looked up by name.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def _parents() -> dict[int, int]:
    """PID → parent PID of every process visible in ``/proc``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:                           # gone meanwhile
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")"
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def descendants(pid: int | None = None) -> list[int]:
    """PIDs of every live process below ``pid`` (default: this one), children first."""
    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        p = todo.pop(0)
        found.append(p)
        todo += children.get(p, [])
    return found


def command_line(pid: int) -> str:
    """The process's command line, for a report ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"                           # a zombie has ended; its parent reaps it


def end_descendants(grace: float = 3.0) -> list[str]:
    """SIGTERM every live descendant of this process by PID, SIGKILL those still alive after ``grace``
    seconds; returns the command lines of those it found."""
    pids = [p for p in descendants() if _alive(p)]
    found = [f"{p}: {command_line(p)}" for p in pids]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.05)
        pids = [p for p in pids if _alive(p)]
        if not pids:
            break
    return found
