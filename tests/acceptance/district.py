"""A district in a box: the built packages installed for a hub host and two station hosts, each host its
own network namespace joined to the hub by a veth pair, so every byte between them crosses a link.

Nothing here imports the project: every step runs an installed program (``ROOT/opt/yizhan/venv``),
the shipped ``yizhan-broker`` script, or a command read from a shipped unit's ``ExecStart=``. The
steps are the README's *Deployment* steps; where a host path is named in a shipped file it is moved
under the install root (there is no chroot), and each rewrite is spelled out where it happens.

Names and addresses are this test's own: namespaces ``yz<pid>-…``, links ``y<pid>…``, subnets
``10.231.<n>.0/24`` inside the namespaces and one ``/30`` to the root namespace for the browser.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = "python3.11"
VENV = "opt/yizhan/venv"
ADMIN_PASSWORD = "broker-admin-secret"
HUB_PASSWORD = "hub-secret"
STATION_PASSWORDS = {"st-a": "station-a-secret", "st-b": "station-b-secret"}
DISTRICT_KEY = "5a" * 32
ADMIN_PIN = "246813"
STAFF = ("district", "district-password-1")
WEB_PORT = 8080


def sh(*cmd: str, check: bool = True, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """Run a command; a failure shows its output."""
    out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, **kw)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {out.returncode}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out


def build_packages(out: Path) -> dict[str, Path]:
    """``make deb`` into ``out`` (or the prebuilt packages in ``$YIZHAN_DEBS``)."""
    given = os.environ.get("YIZHAN_DEBS")
    if not given:
        sh("python3", str(ROOT / "deploy/debian/build.py"), "--out", str(out), "--work", str(out / "work"), timeout=1200)
    folder = Path(given) if given else out
    return {p.name.split("_")[0]: p for p in folder.glob("*.deb")}


def install(root: Path, *debs: Path) -> Path:
    """``dpkg --root`` with the maintainer scripts run against that root (DPKG_ROOT)."""
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").touch()
    sh("dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends", "--force-not-root", "-i",
       *map(str, debs), timeout=600)
    return root


def account(root: Path, user: str) -> tuple[int, int]:
    """(uid, gid) of a system user the packages created in ``root`` (systemd-sysusers under DPKG_ROOT)."""
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise AssertionError(f"{user} is not in {root}/etc/passwd")


def as_unit_user(root: Path, unit: Path) -> list[str]:
    """``setpriv`` to the unit's ``User=``/``Group=`` (numeric: the user exists in the install root only)."""
    text = unit.read_text()
    user = re.search(r"^User=(\S+)", text, re.M).group(1)
    uid, gid = account(root, user)
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]


def env_file(path: Path) -> dict[str, str]:
    """A systemd ``EnvironmentFile=``."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip('"')
    return values


def exec_start(unit: Path, env: dict[str, str], specifiers: dict[str, str]) -> list[str]:
    """The unit's ``ExecStart=`` as argv, expanded as systemd does: ``%x`` specifiers, ``${VAR}`` as one
    word, a lone ``$VAR`` split into words."""
    line = next(s for s in unit.read_text().splitlines() if s.startswith("ExecStart="))[len("ExecStart="):]
    for spec, value in specifiers.items():
        line = line.replace(f"%{spec}", value)
    argv: list[str] = []
    for word in shlex.split(line):
        lone = re.fullmatch(r"\$(\w+)", word)
        if lone:
            argv += env.get(lone.group(1), "").split()
        else:
            argv.append(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), word))
    return argv


def unit_environment(unit: Path, specifiers: dict[str, str]) -> dict[str, str]:
    """The unit's ``Environment=`` lines."""
    env = {}
    for line in unit.read_text().splitlines():
        if line.startswith("Environment="):
            key, _, value = line[len("Environment="):].partition("=")
            for spec, sub in specifiers.items():
                value = value.replace(f"%{spec}", sub)
            env[key] = value
    return env


@dataclass
class Host:
    """One host: a network namespace and an install root."""

    name: str
    ns: str
    root: Path
    address: str
    procs: list[subprocess.Popen] = field(default_factory=list)
    #: A station's link to the hub (hub end, station end), the hub's address on it, its credentials
    #: directory and the environment its kiosk and tools run with.
    link: tuple[str, str] = ("", "")
    hub_address: str = ""
    creds: Path = Path()
    env: dict[str, str] = field(default_factory=dict)
    #: The ``setpriv`` prefix that runs a command as the station's kiosk user.
    user: list[str] = field(default_factory=list)

    def path(self, installed: str) -> Path:
        """An installed absolute path (``/etc/yizhan/…``) inside this host's root."""
        return self.root / installed.lstrip("/")

    @property
    def yizhan(self) -> list[str]:
        """The installed ``yizhan`` command (its ``#!/opt/yizhan/venv/bin/python`` moved under the root)."""
        return [str(self.path(f"/{VENV}/bin/python")), str(self.path(f"/{VENV}/bin/yizhan"))]

    def installed(self, argv: list[str]) -> list[str]:
        """An ExecStart argv whose program is the installed yizhan, run from this root."""
        if argv[0] == f"/{VENV}/bin/yizhan":
            return self.yizhan + argv[1:]
        return [str(self.path(argv[0]))] + argv[1:]

    def run(self, *cmd: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 120,
            stdin: str | None = None) -> subprocess.CompletedProcess:
        """A command on this host (inside its namespace)."""
        return sh("ip", "netns", "exec", self.ns, "env", "-i", *[f"{k}={v}" for k, v in (env or {}).items()], *cmd,
                  check=check, timeout=timeout, input=stdin)

    def spawn(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen:
        """A long-running process on this host, in its own session; stopped by :meth:`stop_all`."""
        with open(logs / f"{self.name}-{name}.log", "ab") as log:      # the child keeps its own copy
            proc = subprocess.Popen(["ip", "netns", "exec", self.ns, "env", "-i",
                                     *[f"{k}={v}" for k, v in env.items()], *argv],
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        """Stop one process (its whole session) by PID."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.procs.remove(proc)

    def stop_all(self) -> None:
        """Stop every process this host started, the last first."""
        for proc in list(reversed(self.procs)):
            try:
                self.stop(proc)
            except ProcessLookupError:
                self.procs.remove(proc)

    def can_connect(self, address: str, port: int) -> bool:
        """A TCP connection from this host (a socket, not ping: ping is not installed)."""
        probe = f"import socket; socket.create_connection(({address!r}, {port}), 2).close()"
        return self.run("python3", "-c", probe, check=False, timeout=10).returncode == 0


class Network:
    """The namespaces and veth links of one test; :meth:`delete` removes exactly those."""

    def __init__(self) -> None:
        tag = str(os.getpid() % 100000)
        self.tag = tag
        self.namespaces: list[str] = []
        self.root_links: list[str] = []
        n = os.getpid() % 200
        self.staff_hub, self.staff_root = f"10.232.{n}.2", f"10.232.{n}.1"

    def namespace(self, role: str) -> str:
        """A new namespace ``yz<pid>-<role>`` with its loopback up."""
        ns = f"yz{self.tag}-{role}"
        sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        return ns

    def link(self, hub_ns: str, station_ns: str, index: int) -> tuple[str, str]:
        """A veth pair hub <-> station: 10.231.<index>.1 on the hub, .2 on the station. Returns the names."""
        hub_end, st_end = f"y{self.tag}h{index}", f"y{self.tag}s{index}"
        sh("ip", "link", "add", hub_end, "type", "veth", "peer", "name", st_end)
        sh("ip", "link", "set", hub_end, "netns", hub_ns)
        sh("ip", "link", "set", st_end, "netns", station_ns)
        sh("ip", "-n", hub_ns, "addr", "add", f"10.231.{index}.1/24", "dev", hub_end)
        sh("ip", "-n", station_ns, "addr", "add", f"10.231.{index}.2/24", "dev", st_end)
        sh("ip", "-n", hub_ns, "link", "set", hub_end, "up")
        sh("ip", "-n", station_ns, "link", "set", st_end, "up")
        return hub_end, st_end

    def staff_link(self, hub_ns: str) -> str:
        """The staff's browser (root namespace) to the hub's workbench: one /30."""
        root_end, hub_end = f"y{self.tag}w0", f"y{self.tag}w1"
        sh("ip", "link", "add", root_end, "type", "veth", "peer", "name", hub_end)
        self.root_links.append(root_end)
        sh("ip", "link", "set", hub_end, "netns", hub_ns)
        sh("ip", "addr", "add", f"{self.staff_root}/30", "dev", root_end)
        sh("ip", "link", "set", root_end, "up")
        sh("ip", "-n", hub_ns, "addr", "add", f"{self.staff_hub}/30", "dev", hub_end)
        sh("ip", "-n", hub_ns, "link", "set", hub_end, "up")
        return self.staff_hub

    def set_link(self, ns: str, dev: str, up: bool) -> None:
        """``ip link set DEV down|up`` on one side of a link (an outage)."""
        sh("ip", "-n", ns, "link", "set", dev, "up" if up else "down")

    def delete(self) -> None:
        """Delete this test's links and namespaces (and so every veth inside them)."""
        for link in self.root_links:
            sh("ip", "link", "del", link, check=False)
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)


def make_certs(folder: Path, addresses: list[str]) -> None:
    """A throwaway CA and a broker certificate for the hub's addresses."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    sh("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj",
       "/CN=Yizhan district CA", cwd=folder)
    sh("openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=hub", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=" + ",".join(f"IP:{a}" for a in addresses) + "\n")
    sh("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
       "-out", "server.crt", "-days", "2", "-extfile", "san.ext", cwd=folder)


def wait_for(predicate, timeout: float, interval: float = 0.25) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def json_out(result: subprocess.CompletedProcess) -> dict:
    """A command's JSON output; a command that printed none fails with what it printed."""
    try:
        return json.loads(result.stdout)
    except ValueError as exc:
        raise AssertionError(f"not JSON: {result.stdout[-2000:]}\n{result.stderr[-2000:]}") from exc


def port_open(address: str, port: int) -> bool:
    """A TCP connection from the root namespace (the staff's side)."""
    try:
        socket.create_connection((address, port), 1).close()
        return True
    except OSError:
        return False


def copy_credential(src_text: str, folder: Path, name: str) -> Path:
    """A systemd credential as the service sees it: ``$CREDENTIALS_DIRECTORY/<name>``, mode 0400."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(src_text)
    path.chmod(0o400)
    return path


def tools_missing() -> str:
    """Why the district cannot be built here ('' when it can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "dpkg", "dpkg-deb", "mosquitto", "mosquitto_ctrl", "openssl", "chromium", "chromedriver"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    return ""


def chromium():
    """Headless Chromium through Selenium (Debian's ``chromium`` and ``chromium-driver``), the staff's browser."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900", "--lang=zh-CN",
                "--disable-gpu"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def downlink_text(data_dir: Path, doc_type: str) -> str:
    """Every applied ``doc_type`` document in a station's data directory, as text (JSON escapes undone)."""
    found = []
    for path in sorted((data_dir / "downlink").glob(f"{doc_type}.*.json")):
        raw = path.read_text(encoding="utf-8")
        found.append(raw.encode().decode("unicode_escape", errors="replace") if "\\u" in raw else raw)
    return "\n".join(found)
