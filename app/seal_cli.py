"""``yizhan seal-secrets [--root DIR]``: seal the station's secrets to its TPM (``app.sealing``).

Reads /etc/credstore/yizhan-station.toml, writes /etc/credstore.encrypted/yizhan-station.toml with
``systemd-creds encrypt --with-key=tpm2`` (the host key where there is no TPM, with a warning),
checks that it decrypts, and erases the plaintext. Exit codes: 0 sealed, 1 nothing sealed (the
message says why; the plaintext is kept). The station package's postinst runs it.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.sealing import PLAIN, SEALED, SealError, seal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``yizhan seal-secrets``."""
    parser.add_argument("--root", default=os.environ.get("DPKG_ROOT") or "/",
                        help="system root holding etc/credstore (default $DPKG_ROOT or /)")


def run(args: argparse.Namespace) -> int:
    """Seal and say what was done."""
    try:
        kind = seal(Path(args.root), os.environ)
    except SealError as exc:
        print(f"yizhan: {exc}", file=sys.stderr)
        return 1
    print(f"sealed /{PLAIN} into /{SEALED} with the {kind} key; the plaintext was erased")
    if kind == "host":
        print("yizhan: this PC has no TPM: the host key lives on the same disk, so a stolen disk still yields "
              "the district key and the admin PIN hash (docs/kiosk-disk.md)", file=sys.stderr)
    return 0
