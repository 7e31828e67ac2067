"""``make acceptance``: the product as shipped, on hosts of their own (issue 23, item 6).

The packages are built (``make deb``; or ``YIZHAN_DEBS=DIR`` names built ones) and installed with
``dpkg --root`` for a hub host and two station hosts, each in its own network namespace. The hub host
runs Mosquitto configured by the shipped ``yizhan-broker`` script with TLS, and the hub and the
workbench started from their units' ``ExecStart=``; the stations run the installed kiosk (offscreen)
and ``yizhan doctor`` with simulated devices on ptys behind the udev-style names. The test only runs
installed programs and reads what they print, what the hub stores and what the workbench shows.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tempfile
import time
import tomllib
from pathlib import Path

import pytest

from tests.acceptance.district import (ADMIN_PASSWORD, ADMIN_PIN, DISTRICT_KEY, HUB_PASSWORD, ROOT, STAFF,
                                       STATION_PASSWORDS, VENV, WEB_PORT, Host, Network, account, as_unit_user,
                                       build_packages, chromium, copy_credential, downlink_text, env_file, exec_start,
                                       install, json_out, make_certs, port_open, tools_missing, unit_environment,
                                       wait_for)

#: `make acceptance` runs these (they build the packages: minutes); `make test` leaves them to it.
SELECTED = os.environ.get("YIZHAN_ACCEPTANCE") == "1"
pytestmark = [pytest.mark.skipif(not SELECTED, reason="the district in a box runs with make acceptance"),
              pytest.mark.skipif(bool(tools_missing()), reason=tools_missing() or "-"), pytest.mark.deploy]

PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
DRIVERS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["yizhan.drivers"]
#: The stations' simulated devices: (settings name, sim target, sim options).
#: The ID card reader presents and removes a sample card every few seconds: each read on the home screen
#: is a visit (a journal record), so the stations make records on their own all through the test.
DEVICES = (("idcard", "idcard", ["--schedule", "4"]), ("bp", "bp", ["--protocol", "maibobo", "--every", "0"]),
           ("glucose", "glucose", ["--protocol", "onetouch-ultra2"]))


def _station_settings(st: Host, station: str, hub_address: str, public_key: str) -> None:
    """The administrator's edit of the installed /etc/yizhan/station.toml (README, Deployment, step 5).
    Host paths move under the install root (no chroot); pcscd, the camera and the printer are not
    simulated here, so they are switched off."""
    path = st.path("/etc/yizhan/station.toml")
    text = path.read_text()
    text = re.sub(r'^id = ".*"', f'id = "{station}"', text, count=1, flags=re.M)
    text = re.sub(r'^host = ".*"', f'host = "{hub_address}"', text, count=1, flags=re.M)
    text = re.sub(r'^username = ".*"', f'username = "{station}"', text, count=1, flags=re.M)
    text = re.sub(r'^document_public_key = ".*"', f'document_public_key = "{public_key}"', text, count=1, flags=re.M)
    text = text.replace('ca_file = "/etc/yizhan/ca.crt"', f'ca_file = "{st.path("/etc/yizhan/ca.crt")}"')
    text = text.replace('data_dir = "/var/lib/yizhan"', f'data_dir = "{st.path("/var/lib/yizhan")}"')
    text = text.replace('port = "/dev/yizhan/', f'port = "{st.path("/dev/yizhan")}/')
    text = text.replace("fullscreen = true", "fullscreen = false")
    # Back to the home screen soon after each card (the next card is the next visit).
    text = text.replace("idle_warning_s = 45", "idle_warning_s = 5").replace("idle_reset_s = 60", "idle_reset_s = 10")
    for off in ("pcsc", "camera", "printer"):
        text = text.replace(f"[devices.{off}]", f"[devices.{off}]\nenabled = false", 1)
    path.write_text(text)


@pytest.fixture(scope="module")
def hosts():
    """The packages built and installed: the hub host and two station hosts, linked (README, Deployment, step 1)."""
    # Under /tmp, not pytest's root-only folder: the services run as the packages' own users.
    base = Path(tempfile.mkdtemp(prefix="yizhan-district-", dir="/tmp"))
    base.chmod(0o755)
    (base / "logs").mkdir()
    started = time.monotonic()
    debs = build_packages(base / "dist")
    assert {"yizhan", "yizhan-station", "yizhan-hub"} <= set(debs), debs
    net = Network()
    made: list[Host] = []
    try:
        hub = Host("hub", net.namespace("hub"), install(base / "hub", debs["yizhan"], debs["yizhan-hub"]), "10.231.1.1")
        made.append(hub)
        stations = {}
        for index, station in ((1, "st-a"), (2, "st-b")):
            st = Host(station, net.namespace(station),
                      install(base / station, debs["yizhan"], debs["yizhan-station"]), f"10.231.{index}.2")
            st.link = net.link(hub.ns, st.ns, index)            # (hub end, station end)
            st.hub_address = f"10.231.{index}.1"
            made.append(st)
            stations[station] = st
        staff = net.staff_link(hub.ns)
        print(f"acceptance: packages built and installed on 3 hosts in {time.monotonic() - started:.0f} s")
        yield {"hub": hub, "stations": stations, "net": net, "staff": staff, "logs": base / "logs", "all": made}
    finally:
        for host in reversed(made):
            host.stop_all()
        net.delete()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def district(hosts):
    """The services started on the installed hosts (README, Deployment, steps 2-8)."""
    hub, stations, staff, logs = hosts["hub"], hosts["stations"], hosts["staff"], hosts["logs"]
    started = time.monotonic()
    # --- hub host: the broker (README, Deployment, steps 2-3) --------------------------------------
    tls = hub.path("/etc/mosquitto/yizhan")
    make_certs(tls, ["10.231.1.1", "10.231.2.1", "127.0.0.1"])
    for st in [hub, *stations.values()]:
        st.path("/etc/yizhan").mkdir(parents=True, exist_ok=True)
        st.path("/etc/yizhan/ca.crt").write_bytes((tls / "ca.crt").read_bytes())
    conf = hub.path("/usr/share/yizhan/mosquitto/yizhan.conf").read_text()
    conf = (conf.replace("/etc/mosquitto/yizhan", str(tls))
            .replace("persistence_location /var/lib/mosquitto/", f"persistence_location {hub.path('/var/lib/mosquitto')}/")
            + f"log_dest file {logs / 'hub-mosquitto.log'}\nuser root\n")
    hub.path("/var/lib/mosquitto").mkdir(parents=True, exist_ok=True)
    hub.path("/etc/mosquitto/conf.d").mkdir(parents=True, exist_ok=True)
    hub.path("/etc/mosquitto/conf.d/yizhan.conf").write_text(conf)
    broker_env = {"PATH": PATH, "YIZHAN_BROKER_ADMIN_PASSWORD": ADMIN_PASSWORD}
    script = str(hub.path("/usr/sbin/yizhan-broker"))
    hub.run(script, "init", str(tls / "dynamic-security.json"), env=broker_env)
    hub.spawn("mosquitto", ["mosquitto", "-c", str(hub.path("/etc/mosquitto/conf.d/yizhan.conf"))], {"PATH": PATH},
              logs)
    assert wait_for(lambda: hub.can_connect("127.0.0.1", 1883), 20), (logs / "hub-mosquitto.log").read_text()
    hub.run(script, "setup", env=broker_env)
    hub.run(script, "add-hub", "hub", env={**broker_env, "YIZHAN_BROKER_PASSWORD": HUB_PASSWORD})
    for station, password in STATION_PASSWORDS.items():
        hub.run(script, "add-station", station, env={**broker_env, "YIZHAN_BROKER_PASSWORD": password})

    # --- hub host: signing key, hub.env, credentials, the hub and the workbench (steps 4-6) --------
    key = hub.path("/etc/yizhan/hub-signing.key")
    out = hub.run(*hub.yizhan, "hub", "keygen", "--signing-key", str(key), env={"PATH": PATH}).stdout
    public_key = re.search(r'document_public_key = "([0-9a-f]{64})"', out).group(1)
    hub_ids = account(hub.root, "yizhan-hub")
    os.chown(key, *hub_ids)                                     # step 4: the key belongs to the hub's user
    env_path = hub.path("/etc/yizhan/hub.env")
    text = env_path.read_text()
    db = hub.path("/var/lib/yizhan-hub/hub.sqlite3")
    text = text.replace("YIZHAN_HUB_DB=/var/lib/yizhan-hub/hub.sqlite3", f"YIZHAN_HUB_DB={db}")
    text = text.replace("--ca-file /etc/yizhan/ca.crt", f"--ca-file {hub.path('/etc/yizhan/ca.crt')}")
    text = text.replace("YIZHAN_WEB_ARGS=", f"YIZHAN_WEB_ARGS=--host {staff} --port {WEB_PORT} --broker-port 8883 "
                        f"--tls --ca-file {hub.path('/etc/yizhan/ca.crt')} --username hub --insecure-cookies")
    text += f"YIZHAN_HUB_SIGNING_KEY={key}\n"
    env_path.write_text(text)
    hub_env = env_file(env_path)
    creds = hub.path("/run/credentials/yizhan-hub")
    copy_credential(HUB_PASSWORD + "\n", creds, "mqtt_password")
    copy_credential("", creds, "pgpass")
    for credential in creds.iterdir():                         # systemd hands credentials to the unit's user
        os.chown(credential, *hub_ids)
    units = hub.path("/usr/lib/systemd/system")
    spec = {"i": "1", "H": "hub", "d": str(creds)}
    service_env = {"PATH": PATH, "CREDENTIALS_DIRECTORY": str(creds), **hub_env,
                   **unit_environment(units / "yizhan-hub@.service", spec)}
    hub_unit, web_unit = units / "yizhan-hub@.service", units / "yizhan-hub-web.service"
    hub.spawn("hub", as_unit_user(hub.root, hub_unit) + hub.installed(exec_start(hub_unit, hub_env, spec)),
              service_env, logs)
    assert wait_for(db.exists, 60), (logs / "hub-hub.log").read_text()[-3000:]
    hub.run(*as_unit_user(hub.root, hub_unit), *hub.yizhan, "hub", "user", "add", STAFF[0], "--role", "district",
            "--db", str(db), env={"PATH": PATH, "YIZHAN_USER_PASSWORD": STAFF[1]})
    hub.spawn("web", as_unit_user(hub.root, web_unit) + hub.installed(exec_start(web_unit, hub_env, spec)),
              service_env, logs)
    assert wait_for(lambda: port_open(staff, WEB_PORT), 60), (logs / "hub-web.log").read_text()[-3000:]

    # --- station hosts: settings, secrets, devices, the kiosk (steps 5-8) --------------------------
    pin_hash = stations["st-a"].run(*stations["st-a"].yizhan, "kiosk", "--hash-pin", env={"PATH": PATH},
                                    stdin=f"{ADMIN_PIN}\n{ADMIN_PIN}\n").stdout.strip().splitlines()[-1]
    for station, st in stations.items():
        _station_settings(st, station, st.hub_address, public_key)
        secrets = (f'district_key = "{DISTRICT_KEY}"\nadmin_pin_hash = "{pin_hash}"\n'
                   f'mqtt_password = "{STATION_PASSWORDS[station]}"\n')
        st.path("/etc/credstore/yizhan-station.toml").write_text(secrets)
        st.creds = st.path("/run/credentials/yizhan-kiosk")
        kiosk_ids = account(st.root, "yizhan")
        os.chown(copy_credential(secrets, st.creds, "secrets.toml"), *kiosk_ids)   # as systemd hands it over
        st.user = as_unit_user(st.root, st.path("/usr/lib/systemd/system/yizhan-kiosk.service"))
        st.path("/dev/yizhan").mkdir(parents=True, exist_ok=True)
        for name, target, options in DEVICES:
            st.spawn(f"sim-{name}", [*st.yizhan, "sim", target, "--link", str(st.path(f"/dev/yizhan/{name}")),
                                     *options], {"PATH": PATH}, logs)
        assert wait_for(lambda: all(st.path(f"/dev/yizhan/{n}").exists() for n, _, _ in DEVICES), 30)
        for name, _, _ in DEVICES:             # what 70-yizhan.rules does: GROUP="yizhan", MODE="0660"
            device = Path(os.path.realpath(st.path(f"/dev/yizhan/{name}")))
            os.chown(device, 0, kiosk_ids[1])
            device.chmod(0o660)
        st.env = {"PATH": PATH, "YIZHAN_CONFIG": str(st.path("/etc/yizhan/station.toml")),
                  "CREDENTIALS_DIRECTORY": str(st.creds), "KIVY_HOME": str(st.path("/var/lib/yizhan/kivy")),
                  "KIVY_NO_ARGS": "1", "SDL_AUDIODRIVER": "dummy", "HOME": str(st.path("/var/lib/yizhan"))}
    for st in stations.values():
        st.spawn("kiosk", [*st.user, *st.yizhan, "kiosk", "--windowed"], st.env, logs)
    print(f"acceptance: broker, hub, workbench and two kiosks started in {time.monotonic() - started:.0f} s")
    yield {**hosts, "db": db, "public_key": public_key}


def _logs(district, *names: str) -> str:
    return "\n".join(f"--- {n}\n" + (district["logs"] / f"{n}.log").read_text(errors="replace")[-2500:]
                     for n in names if (district["logs"] / f"{n}.log").exists())


def test_the_installed_stations_list_every_driver(hosts):
    for st in hosts["stations"].values():
        listed = set()
        for kind in ("bp", "glucose"):
            out = st.run(*st.yizhan, "probe", kind, "--list", env={"PATH": PATH}).stdout.split()
            listed |= {f"{kind}.{name}" for name in out}
        assert listed == {d for d in DRIVERS if d.split(".")[0] in ("bp", "glucose")}
        registry = st.run(str(st.path(f"/{VENV}/bin/python")), "-I", "-c",
                          "import json, drivers; print(json.dumps(drivers.registry()))", env={"PATH": PATH}).stdout
        assert registry.strip() != "{}"


def test_doctor_passes_on_both_stations(district):
    for station, st in district["stations"].items():
        result = st.run(*st.user, *st.yizhan, "doctor", "--json", env=st.env, check=False, timeout=120)
        doc = json_out(result)
        failing = {c["name"]: c["message"] for c in doc["checks"] if c["status"] == "fail"}
        assert doc["healthy"] and result.returncode == 0, (station, failing)
        assert doc["version"].startswith("yizhan ") and doc["station"] == station


def test_both_stations_report_to_the_hub_across_their_links(district):
    hub = district["hub"]

    def online() -> dict:
        out = hub.run(*hub.yizhan, "hub", "stations", "--json", "--db", str(district["db"]), env={"PATH": PATH},
                      check=False)
        try:
            rows = json_out(out)
        except AssertionError:
            return {}
        rows = rows if isinstance(rows, list) else rows.get("stations", [])
        return {r.get("station") or r.get("id"): r for r in rows}

    assert wait_for(lambda: {"st-a", "st-b"} <= set(online()), 120, 2), (
        online(), _logs(district, "st-a-kiosk", "st-b-kiosk", "hub-hub"))


def _ids(path: Path, query: str) -> set[str]:
    """Row ids from a database file, read only (the station's journal, the hub's database)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        return {row[0] for row in db.execute(query)}


def test_a_link_cut_for_a_minute_loses_and_doubles_nothing(district):
    st, net = district["stations"]["st-a"], district["net"]
    journal = st.path("/var/lib/yizhan/journal.sqlite3")
    at_hub = "SELECT id FROM hub_records WHERE station = 'st-a'"

    def journal_ids() -> set[str]:
        return _ids(journal, "SELECT id FROM records") if journal.exists() else set()

    assert wait_for(lambda: journal_ids() and journal_ids() <= _ids(district["db"], at_hub), 120, 2), (
        _logs(district, "st-a-kiosk", "st-a-sim-idcard"))
    net.set_link(st.ns, st.link[1], up=False)                   # the station's end of its only link
    try:
        before = journal_ids()
        time.sleep(60)
        during = journal_ids()
        assert during > before, "the station made no record during the outage"
        assert not (during - before) & _ids(district["db"], at_hub)     # nothing crossed a cut link
    finally:
        net.set_link(st.ns, st.link[1], up=True)
    assert wait_for(lambda: during <= _ids(district["db"], at_hub), 120, 2), _logs(district, "st-a-kiosk")
    with sqlite3.connect(f"file:{district['db']}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT count(*), count(DISTINCT id) FROM hub_records WHERE station = 'st-a'").fetchone()
    assert rows[0] == rows[1] and _ids(district["db"], at_hub) <= journal_ids()   # once each, none invented


def test_an_activity_published_in_the_workbench_reaches_both_kiosks(district):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base = f"http://{district['staff']}:{WEB_PORT}"
    driver = chromium()
    try:
        wait = WebDriverWait(driver, 20, 0.1, ignored_exceptions=(StaleElementReferenceException,))
        driver.get(base + "/login")
        assert re.search(r"yizhan 0\.1\.0 \(\S+\)", driver.find_element(By.CSS_SELECTOR, "footer.build").text)
        driver.find_element(By.ID, "username").send_keys(STAFF[0])
        driver.find_element(By.ID, "password").send_keys(STAFF[1])
        driver.find_element(By.ID, "sign-in").click()
        wait.until(lambda d: d.find_elements(By.ID, "nav-activities"))
        driver.find_element(By.ID, "nav-activities").click()
        wait.until(lambda d: d.find_elements(By.ID, "publish-activity"))
        day = time.strftime("%Y-%m-%d", time.localtime(time.time() + 3 * 86400))
        for field, value in (("title", "验收测试讲座"), ("place", "一楼大厅"), ("day", day), ("start", "19:00"),
                             ("end", "20:00"), ("capacity", "20")):
            element = driver.find_element(By.ID, field)
            if element.get_attribute("type") in ("date", "time"):
                driver.execute_script("arguments[0].value = arguments[1];", element, value)
            else:
                element.clear()
                element.send_keys(value)
        for box in driver.find_elements(By.CSS_SELECTOR, 'input[name="stations"]'):
            if box.get_attribute("value") in district["stations"] and not box.is_selected():
                box.click()
        driver.find_element(By.ID, "publish-activity").click()
        wait.until(lambda d: "已发布日程" in d.find_element(By.TAG_NAME, "body").text)
    finally:
        driver.quit()
    for station, st in district["stations"].items():
        data_dir = st.path("/var/lib/yizhan")
        assert wait_for(lambda: "验收测试讲座" in downlink_text(data_dir, "calendar"), 60, 1), (
            station, _logs(district, f"{station}-kiosk", "hub-web"))
