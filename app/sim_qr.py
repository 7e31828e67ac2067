"""``yizhan sim qr --out DIR|FILE.avi --token-kind resident --subject KEY``: QR frames for the camera.

Issues fresh signed tokens with the district key from ``YIZHAN_DISTRICT_KEY`` (hex) and writes
camera-like frames showing them (``drivers.sim.qr`` draws them).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from drivers.sim.qr import write_image_folder, write_video
from kiosk.tokens import issue_token, verify_token


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``yizhan sim qr``."""
    parser.add_argument("--out", required=True, help="a folder for PNG frames, or FILE.avi for a video")
    parser.add_argument("--token-kind", choices=["resident", "volunteer"], default="resident")
    parser.add_argument("--subject", help="resident person_key (64 hex) or volunteer id")
    parser.add_argument("--station", default="sim-station", help="issuing station id")
    parser.add_argument("--ttl", type=float, default=86400.0, help="token lifetime in seconds")
    parser.add_argument("--bound", action="store_true", help="valid only at --station")
    parser.add_argument("--one-time", action="store_true", help="valid once, at --station only")
    parser.add_argument("--text", action="append", default=[],
                        help="also show this raw text as a QR (e.g. to train the refusal of foreign codes)")
    parser.add_argument("--frames", type=int, default=5, help="frames per code")
    parser.add_argument("--blank", type=int, default=2, help="frames without a code before each code")
    parser.add_argument("--noise", type=float, default=0.02, help="pixel noise, fraction of full scale")
    parser.add_argument("--fps", type=float, default=10.0, help="video frame rate")


def run(args: argparse.Namespace) -> int:
    """Issue the tokens, write the frames and print ``{"path": …}`` as JSON."""
    texts: list[str] = []
    expires_at = None
    if args.subject:
        key_hex = os.environ.get("YIZHAN_DISTRICT_KEY", "")
        try:
            key = bytes.fromhex(key_hex)
        except ValueError:
            key = b""
        if len(key) < 16:
            print("error: set YIZHAN_DISTRICT_KEY to the district key as hex (at least 32 hex digits)",
                  file=sys.stderr)
            return 2
        try:
            token = issue_token(key, args.token_kind, args.subject, args.ttl, args.station,
                                bound=args.bound, one_time=args.one_time)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        expires_at = verify_token(key, token).expires_at.isoformat()
        texts.append(token)
    texts.extend(args.text)
    if not texts:
        print("error: give --subject (a signed token) and/or --text", file=sys.stderr)
        return 2
    sequence: list[str | None] = []
    for text in texts:
        sequence.extend([None] * max(0, args.blank))
        sequence.append(text)
    frames = [t for t in sequence for _ in range(max(1, args.frames))]
    out = Path(args.out)
    try:
        if out.suffix.lower() == ".avi":
            write_video(out, frames, frames_per_text=1, fps=args.fps, noise=args.noise)
        else:
            write_image_folder(out, frames, noise=args.noise)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"path": str(out.resolve()), "frames": len(frames), "codes": len(texts),
                      "kind": args.token_kind if args.subject else None, "expires_at": expires_at}))
    return 0
