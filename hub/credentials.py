"""The hub's broker password: ``$YIZHAN_MQTT_PASSWORD``, else the systemd credential ``mqtt_password``.

Both hub units load the credential (``LoadCredential=mqtt_password:…``); ``yizhan hub run`` and the
workbench (``yizhan hub web``, which publishes documents) read it the same way.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def mqtt_password(env: Mapping[str, str] | None = None) -> str:
    """``$YIZHAN_MQTT_PASSWORD``, else ``$CREDENTIALS_DIRECTORY/mqtt_password``, else ``""``."""
    env = os.environ if env is None else env
    creds = env.get("CREDENTIALS_DIRECTORY")
    if not env.get("YIZHAN_MQTT_PASSWORD") and creds and (Path(creds) / "mqtt_password").exists():
        return (Path(creds) / "mqtt_password").read_text(encoding="utf-8").strip()
    return env.get("YIZHAN_MQTT_PASSWORD", "")
