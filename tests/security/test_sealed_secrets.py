"""Issue 27, item 3: the district key and the admin PIN hash off the station's disk.

The station package's units read a plaintext /etc/credstore/yizhan-station.toml, so a stolen disk
gave the person-key search for the whole district, QR tokens any station accepts and the admin PIN.
Now the package seals the secrets to the TPM (``yizhan seal-secrets``, run by postinst), the units
load only the sealed credential, and ``yizhan doctor`` fails while they sit in plaintext.

The TPM is a software TPM (swtpm, over TCP, named to systemd by ``SYSTEMD_TPM2_DEVICE``); the
packages are the real ones, installed by the real dpkg into a throwaway root. Not tested here:
systemd (PID 1) itself decrypting ``LoadCredentialEncrypted=`` at a unit's start, which uses the same
code as ``systemd-creds decrypt`` tested below.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from app import sealing
from app.doctor import check_sealed, report
from kiosk.settings import hash_pin, load_settings
from tests.deploy.test_package import build, dpkg, new_root
from tests.support.services import free_port, wait_for

PIN_HASH = hash_pin("246813")
SECRETS = f'district_key = "{"ef" * 32}"\nadmin_pin_hash = "{PIN_HASH}"\nmqtt_password = "pw"\n'
needs_swtpm = pytest.mark.skipif(shutil.which("swtpm") is None or shutil.which("systemd-creds") is None,
                                 reason="needs the swtpm and systemd packages (apt-get install swtpm libtss2-tcti-swtpm0)")


def _port_pair() -> int:
    """A free TCP port whose successor is free too."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two consecutive free ports")


class SoftwareTpm:
    """A swtpm process on free ports with its own state directory; ``device`` names it to systemd."""

    def __init__(self, state: Path) -> None:
        state.mkdir(parents=True, exist_ok=True)
        self.port = _port_pair()                # the swtpm TCTI finds the control port at port + 1
        self.proc = subprocess.Popen(["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={state}",
                                      "--server", f"type=tcp,port={self.port},bindaddr=127.0.0.1",
                                      "--ctrl", f"type=tcp,port={self.port + 1},bindaddr=127.0.0.1",
                                      "--flags", "not-need-init,startup-clear"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.device = f"swtpm:host=127.0.0.1,port={self.port}"
        def up() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0
        assert wait_for(up, 10, 0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture()
def tpm(tmp_path):
    t = SoftwareTpm(tmp_path / "tpm")
    yield t
    t.stop()


def _env(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YIZHAN_", "SYSTEMD_")) and k != "DISPLAY"}
    env["SYSTEMD_CREDENTIAL_SECRET"] = str(tmp_path / "host-credential.secret")   # never the machine's own
    env.update(extra)
    return env


def _decrypt(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-creds", f"--name={sealing.NAME}", "decrypt", str(path), "-"],
                          capture_output=True, env=env, timeout=60)


@pytest.fixture(scope="module")
def station_debs(tmp_path_factory):
    return build(tmp_path_factory.mktemp("sealdebs"), "0.1.0")


@needs_swtpm
@pytest.mark.deploy
def test_the_package_seals_the_secrets_to_the_tpm_and_the_doctor_fails_on_plaintext(tmp_path, tpm, station_debs):
    root = new_root(tmp_path / "root")
    env = _env(tmp_path, SYSTEMD_TPM2_DEVICE=tpm.device)
    assert dpkg(root, "-i", *station_debs.values()).returncode == 0
    for unit in ("yizhan-kiosk.service", "yizhan-backup.service"):
        text = (root / "usr/lib/systemd/system" / unit).read_text()
        assert "LoadCredentialEncrypted=secrets.toml:/etc/credstore.encrypted/yizhan-station.toml" in text
        assert "\nLoadCredential=" not in text                      # no plaintext source any more
    plain = root / sealing.PLAIN
    plain.write_text(SECRETS)                                       # the installer writes the secrets
    doctor_env = _env(tmp_path, YIZHAN_SYSTEM_ROOT=str(root), YIZHAN_DISTRICT_KEY="ef" * 32,
                      YIZHAN_ADMIN_PIN="246813", YIZHAN_DATA_DIR=str(tmp_path / "data"))
    settings = load_settings(root / "etc/yizhan/station.toml", env=doctor_env)
    verdict = check_sealed(settings, doctor_env)                   # yizhan doctor's check, on the installed root
    assert verdict.status == "fail", verdict
    assert "plaintext" in verdict.message and "yizhan seal-secrets" in verdict.message
    assert report("st", [verdict])["healthy"] is False

    result = subprocess.run(["dpkg", f"--root={root}", "--force-script-chrootless", "--force-depends", "-i",
                             *map(str, station_debs.values())], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr                    # postinst sealed it
    sealed = root / sealing.SEALED
    assert not plain.exists() and sealed.exists()
    assert oct(sealed.stat().st_mode & 0o777) == "0o600"
    assert sealing.seal_kind(sealed) == "tpm2"
    assert b"district_key" not in sealed.read_bytes() and ("ef" * 32).encode() not in sealed.read_bytes()
    assert check_sealed(settings, doctor_env).status == "ok"

    opened = _decrypt(sealed, env)                                  # what LoadCredentialEncrypted= hands over
    assert opened.returncode == 0 and opened.stdout.decode() == SECRETS
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "secrets.toml").write_bytes(opened.stdout)
    (creds / "secrets.toml").chmod(0o400)                           # as systemd hands a credential over
    settings = load_settings(root / "etc/yizhan/station.toml", env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert settings.secrets.district_key == bytes.fromhex("ef" * 32)

    other_pc = SoftwareTpm(tmp_path / "other-tpm")                  # the disk in another PC
    try:
        assert _decrypt(sealed, _env(tmp_path, SYSTEMD_TPM2_DEVICE=other_pc.device)).returncode != 0
    finally:
        other_pc.stop()
    assert _decrypt(sealed, _env(tmp_path)).returncode != 0         # or without a TPM at all


@needs_swtpm
def test_without_a_tpm_the_secrets_are_sealed_with_the_host_key_and_the_doctor_says_what_that_means(tmp_path):
    root = tmp_path / "root"
    (root / "usr/lib/systemd/system").mkdir(parents=True)
    (root / "usr/lib/systemd/system/yizhan-kiosk.service").write_text("[Service]\n")
    (root / sealing.PLAIN).parent.mkdir(parents=True)
    (root / sealing.PLAIN).write_text(SECRETS)
    env = _env(tmp_path)
    assert sealing.seal(root, env) == "host"
    assert sealing.seal_kind(root / sealing.SEALED) == "host" and not (root / sealing.PLAIN).exists()
    status, message = sealing.check(root, env, None)
    assert status == "warn" and "stolen disk yields the district key" in message
    (root / "dev").mkdir()
    (root / "dev/tpmrm0").touch()                                   # the PC has a TPM after all
    status, message = sealing.check(root, env, None)
    assert status == "fail" and "yizhan seal-secrets" in message


def test_the_doctor_fails_on_a_plaintext_secrets_file_in_the_data_directory_of_an_installed_station(tmp_path):
    root = tmp_path / "root"
    (root / "usr/lib/systemd/system").mkdir(parents=True)
    (root / "usr/lib/systemd/system/yizhan-kiosk.service").write_text("[Service]\n")
    data_secrets = tmp_path / "secrets.toml"
    data_secrets.write_text(SECRETS)
    status, message = sealing.check(root, {}, data_secrets)
    assert status == "fail" and str(data_secrets) in message and "plaintext" in message
    assert sealing.check(tmp_path / "not-a-station", {}, data_secrets)[0] == "skip"
