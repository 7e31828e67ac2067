"""Settings: defaults + station file + environment, every error at once, secrets outside config/."""
from __future__ import annotations

import pytest

from kiosk import settings as settings_mod
from kiosk.settings import ConfigError, hash_pin, load_settings, verify_pin


def write(tmp_path, text: str):
    path = tmp_path / "station.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_settings_load_and_generate_private_demo_secrets(data_dir):
    s = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(data_dir)})
    assert s.station.id == "demo-001" and s.ui.idle_reset_s == 60 and s.ui.idle_warning_s == 45
    assert s.data_dir == data_dir.resolve()
    secrets_file = data_dir / "secrets.toml"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    assert len(s.secrets.district_key) == 32
    assert verify_pin(settings_mod.DEMO_ADMIN_PIN, s.secrets.admin_pin_hash)
    again = load_settings(demo=True, env={"YIZHAN_DATA_DIR": str(data_dir)})
    assert again.secrets.district_key == s.secrets.district_key   # generated once, then reused
    assert "district_key" not in repr(s) or s.secrets.district_key.hex() not in repr(s)


def test_every_error_is_reported_at_once_with_file_and_key(tmp_path):
    path = write(tmp_path, """
version = 1
[station]
id = "bad id!"
[ui]
idle_reset_s = "soon"
idle_warning_s = 2
languag = "en"
[sync]
port = 70000
[colour]
x = 1
""")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={"YIZHAN_DATA_DIR": str(tmp_path / "d")})
    text = "\n".join(info.value.errors)
    for expected in ("station.id: letters, digits", "ui.idle_reset_s: must be a whole number",
                     "ui.idle_warning_s: must be at least 5", "ui.languag: unknown setting",
                     "sync.port: must be at most 65535", "colour: unknown section",
                     "district_key: missing"):
        assert expected in text, expected
    assert all(line.startswith(str(path)) or "secrets.toml" in line for line in info.value.errors)


def test_broken_toml_and_missing_file_are_named(tmp_path):
    broken = write(tmp_path, "[station\nid = ")
    with pytest.raises(ConfigError) as info:
        load_settings(broken, env={})
    assert "not valid TOML" in info.value.errors[0] and str(broken) in info.value.errors[0]
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "nope.toml", env={})
    assert "file not found" in info.value.errors[0]


def test_environment_overrides_and_secrets_from_environment(tmp_path):
    path = write(tmp_path, '[station]\nid = "a-1"\nname = "X"\n')
    env = {"YIZHAN_STATION_ID": "b-2", "YIZHAN_DATA_DIR": str(tmp_path / "d"),
           "YIZHAN_DISTRICT_KEY": "11" * 32, "YIZHAN_ADMIN_PIN": "135790", "YIZHAN_MQTT_PASSWORD": "pw"}
    s = load_settings(path, env=env)
    assert s.station.id == "b-2" and s.data_dir.name == "d"
    assert s.secrets.district_key == bytes.fromhex("11" * 32)
    assert verify_pin("135790", s.secrets.admin_pin_hash) and not verify_pin("135791", s.secrets.admin_pin_hash)
    assert s.secrets.mqtt_password == "pw"
    assert not (tmp_path / "d" / "secrets.toml").exists()      # only demo mode writes secrets


def test_newer_version_is_refused_and_migrations_run_in_order(tmp_path, monkeypatch):
    newer = write(tmp_path, f"version = {settings_mod.CONFIG_VERSION + 1}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(newer, env={"YIZHAN_DISTRICT_KEY": "22" * 32, "YIZHAN_ADMIN_PIN": "123456"})
    assert "newer than this Yizhan understands" in str(info.value)

    # A future format change: version 1 files spelled the station name "title".
    monkeypatch.setattr(settings_mod, "CONFIG_VERSION", 2)
    def v1_to_v2(doc):
        doc["station"]["name"] = doc["station"].pop("title")
        return doc
    monkeypatch.setitem(settings_mod.MIGRATIONS, 1, v1_to_v2)
    old = write(tmp_path, 'version = 1\n[station]\nid = "s1"\ntitle = "旧名"\n')
    s = load_settings(old, env={"YIZHAN_DATA_DIR": str(tmp_path / "d"), "YIZHAN_DISTRICT_KEY": "22" * 32,
                                "YIZHAN_ADMIN_PIN": "123456"})
    assert s.station.name == "旧名" and s.version == 2


def test_annotated_example_is_valid_apart_from_secrets(tmp_path):
    s = load_settings(settings_mod.CONFIG_DIR / "example.toml",
                      env={"YIZHAN_DATA_DIR": str(tmp_path), "YIZHAN_DISTRICT_KEY": "33" * 32, "YIZHAN_ADMIN_PIN": "258046"})
    assert s.devices["bp"].driver == "maibobo" and s.sync.tls
    assert s.idle_reset_for("measure_bp") == 180 and s.idle_reset_for("home") == 60


def test_pin_hash_is_salted():
    assert hash_pin("1234") != hash_pin("1234")
    assert not verify_pin("1234", "garbage")
