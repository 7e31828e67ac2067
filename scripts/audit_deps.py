"""``make audit-deps``: audit the hashed locks in ``lock/`` for dependencies with published advisories.

Three sources, each reported by what it could and could not check:

1. ``lock/advisories.toml`` (offline, always): no lock pins, and no floor in ``pyproject.toml``
   admits, a version below an advisory's ``fixed`` version.
2. ``--osv-db DIR`` (offline): a checkout of the PyPA advisory database (OSV YAML under ``vulns/``):
   every pinned version against every advisory of its package.
3. ``--online``: ``pip-audit`` over each lock (PyPI's JSON API, or OSV). Where those services are
   unreachable, as on this project's machines, it says so and the offline checks stand.

Also, by default, every pinned file is checked against the PyPI simple index (PEP 691): a release
its authors *yanked* is an error. Exit 1 when a check found a problem, 0 otherwise.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ("lock/kiosk.txt", "lock/hub.txt", "lock/dev.txt")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")
INDEX = "https://pypi.org/simple/"


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, tuple[str, set[str]]]:
    """``{name: (version, {sha256, …})}`` of a hashed lock file."""
    found: dict[str, tuple[str, set[str]]] = {}
    name = ""
    for line in lock.read_text(encoding="utf-8").splitlines():
        m = _PIN.match(line.strip())
        if m:
            name = normalise(m.group(1))
            found[name] = (m.group(2), set())
        for h in _HASH.findall(line):
            if name:
                found[name][1].add(h)
    return found


def advisories(path: Path) -> list[dict[str, str]]:
    """The hand-kept advisories file's entries."""
    return tomllib.loads(path.read_text(encoding="utf-8")).get("advisory", [])


def check_floors(locks: dict[str, dict[str, tuple[str, set[str]]]], known: list[dict[str, str]],
                 pyproject: Path) -> list[str]:
    """Problems: a pin below a fixed version, or a pyproject requirement that admits one."""
    problems = []
    for adv in known:
        name, fixed = normalise(adv["package"]), Version(adv["fixed"])
        for lock, pinned in locks.items():
            if name in pinned and Version(pinned[name][0]) < fixed:
                problems.append(f"{lock}: {name}=={pinned[name][0]} is affected by {adv['id']} "
                                f"({adv['note']}); fixed in {fixed}")
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    reqs = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    for text in reqs:
        req = Requirement(text)
        for adv in known:
            fixed = Version(adv["fixed"])
            if normalise(req.name) != normalise(adv["package"]):
                continue
            floors = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=", ">")]
            if not floors or max(floors) < fixed:
                problems.append(f"pyproject.toml: {text!r} admits {req.name} below {fixed} ({adv['id']}: {adv['note']})")
    return problems


def _osv_affected(doc: dict, name: str, version: Version) -> bool:
    for aff in doc.get("affected", []):
        if normalise(aff.get("package", {}).get("name", "")) != name:
            continue
        if str(version) in {str(v) for v in aff.get("versions", [])}:
            return True
        for rng in aff.get("ranges", []):
            if rng.get("type") != "ECOSYSTEM":
                continue
            start = None
            for event in rng.get("events", []):
                if "introduced" in event:
                    start = Version(str(event["introduced"]))
                elif "fixed" in event and start is not None:
                    if start <= version < Version(str(event["fixed"])):
                        return True
                    start = None
            if start is not None and version >= start:
                return True
    return False


def ignored(path: Path) -> dict[str, str]:
    """``{advisory id: reason}`` of the advisories that do not apply (``[[ignore]]`` entries)."""
    return {e["id"]: e["reason"] for e in tomllib.loads(path.read_text(encoding="utf-8")).get("ignore", [])}


def check_osv(locks: dict[str, dict[str, tuple[str, set[str]]]], db: Path, skip: dict[str, str]) -> list[str]:
    """Problems: a pinned version an advisory in the OSV database ``db`` names as affected."""
    import yaml  # type: ignore[import-untyped]  # only with --osv-db: PyYAML is in the dev lock

    problems = []
    for lock, pinned in locks.items():
        for name, (version, _) in sorted(pinned.items()):
            folder = db / "vulns" / name
            for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
                doc = yaml.safe_load(path.read_text(encoding="utf-8"))
                if doc["id"] not in skip and _osv_affected(doc, name, Version(version)):
                    problems.append(f"{lock}: {name}=={version}: {doc['id']} {doc.get('aliases', [])}")
    return problems


def check_yanked(locks: dict[str, dict[str, tuple[str, set[str]]]], index: str) -> tuple[list[str], str]:
    """(problems, note): pinned files the index marks as yanked; the note says if it was unreachable."""
    problems, seen = [], {}
    for lock, pinned in locks.items():
        for name, (version, hashes) in sorted(pinned.items()):
            if name not in seen:
                req = urllib.request.Request(index + name + "/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        seen[name] = json.load(resp).get("files", [])
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    return [], f"the index {index} could not be read ({exc}): yanked releases not checked"
            for f in seen[name]:
                if f.get("hashes", {}).get("sha256") in hashes and f.get("yanked"):
                    problems.append(f"{lock}: {name}=={version}: {f['filename']} is yanked: {f['yanked']}")
    return problems, f"{len(seen)} packages checked against {index} for yanked releases"


def run_pip_audit(lock_paths: list[Path], skip: dict[str, str]) -> tuple[list[str], str]:
    """(problems, note) from pip-audit over each lock; its services' absence is a note, not a pass."""
    exe = shutil.which("pip-audit") or str(Path(sys.executable).with_name("pip-audit"))
    if not Path(exe).exists():
        return [], "pip-audit is not installed: online audit not run"
    problems, notes = [], []
    for lock in lock_paths:
        out = subprocess.run([exe, "-r", str(lock), "--disable-pip", "--require-hashes", "--progress-spinner", "off",
                              "-f", "json"], capture_output=True, text=True)
        try:
            deps = json.loads(out.stdout).get("dependencies", [])
        except ValueError:
            notes.append(f"{lock.name}: pip-audit could not run: {out.stderr.strip().splitlines()[-1:]}")
            continue
        skipped = [d["name"] for d in deps if d.get("skip_reason")]
        problems += [f"{lock.name}: {d['name']}=={d['version']}: {v['id']} fixed in {v.get('fix_versions')}"
                     for d in deps for v in d.get("vulns", []) if v["id"] not in skip]
        notes.append(f"{lock.name}: pip-audit audited {len(deps) - len(skipped)} of {len(deps)}"
                     + (f" (its service did not know {len(skipped)}: unreachable here?)" if skipped else ""))
    return problems, "; ".join(notes)


def main(argv: list[str] | None = None) -> int:
    """Run the audits and print what each found and what it could not check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", action="append", help="a hashed lock file (default: lock/kiosk, hub, dev)")
    parser.add_argument("--advisories", default=str(ROOT / "lock/advisories.toml"))
    parser.add_argument("--pyproject", default=str(ROOT / "pyproject.toml"))
    parser.add_argument("--osv-db", help="a checkout of the PyPA advisory database (github pypa/advisory-database)")
    parser.add_argument("--online", action="store_true", help="also run pip-audit over each lock")
    parser.add_argument("--no-index", action="store_true", help="skip the yanked-release check (no network)")
    parser.add_argument("--index", default=INDEX, help="PEP 691 simple index for the yanked check")
    args = parser.parse_args(argv)
    lock_paths = [Path(p) for p in (args.lock or [str(ROOT / p) for p in LOCKS])]
    locks = {p.name: pins(p) for p in lock_paths}
    total = len({n for pinned in locks.values() for n in pinned})
    known = advisories(Path(args.advisories))
    problems = check_floors(locks, known, Path(args.pyproject))
    print(f"audit-deps: {total} distinct packages in {', '.join(locks)}; {len(known)} recorded advisories checked "
          "against the pins and the pyproject floors")
    if args.osv_db:
        if not (Path(args.osv_db) / "vulns").is_dir():
            print(f"audit-deps: {args.osv_db} has no vulns/ folder: not an advisory database checkout", file=sys.stderr)
            return 2
        found = check_osv(locks, Path(args.osv_db), ignored(Path(args.advisories)))
        print(f"audit-deps: OSV database {args.osv_db}: {len(found)} affected pins")
        problems += found
    if not args.no_index:
        found, note = check_yanked(locks, args.index)
        print(f"audit-deps: {note}")
        problems += found
    if args.online:
        found, note = run_pip_audit(lock_paths, ignored(Path(args.advisories)))
        print(f"audit-deps: {note}")
        problems += found
    for p in problems:
        print(f"  ✘ {p}")
    print(f"audit-deps: {'FAILED, ' + str(len(problems)) + ' problems' if problems else 'no known advisory affects the locks'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
