"""QR frame source generator: camera-like frames holding QR codes, as images, folders or a video.

Codes are drawn with OpenCV's own ``QRCodeEncoder`` (no other QR library), scaled with nearest
neighbour so modules stay square, given a quiet zone of four modules (ISO/IEC 18004), placed on a
grey "scene" and optionally blurred and speckled with noise like a cheap webcam.

The ``yizhan sim qr`` command (``app/sim_qr.py``) issues signed tokens and writes them with these
functions.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

QUIET_MODULES = 4


def qr_modules(text: str) -> np.ndarray:
    """The bare QR symbol of ``text``: one pixel per module, 0 = dark, 255 = light.

    Raises:
        ValueError: the text does not fit in a QR code.
    """
    try:
        symbol = cv2.QRCodeEncoder.create().encode(text)
    except cv2.error as exc:
        raise ValueError(f"cannot encode {len(text)} characters as a QR code: {exc}") from None
    if symbol is None or symbol.size == 0:
        raise ValueError("QR encoder returned nothing")
    return symbol


def blank_frame(size: tuple[int, int] = (640, 480), seed: int = 0, noise: float = 0.02) -> np.ndarray:
    """A camera-like BGR frame with no code: a soft gradient plus noise."""
    w, h = size
    rng = np.random.default_rng(seed)
    gradient = np.linspace(90, 170, w, dtype=np.float32)[None, :].repeat(h, axis=0)
    frame = np.stack([gradient, gradient * 0.95, gradient * 0.9], axis=2)
    frame += rng.normal(0, noise * 255, frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


def make_token_image(text: str, size: tuple[int, int] = (640, 480), noise: float = 0.02,
                     fill: float = 0.6, offset: tuple[int, int] = (0, 0), blur: int = 3,
                     seed: int = 0) -> np.ndarray:
    """A BGR frame of ``size`` (width, height) showing ``text`` as a QR code.

    Args:
        text: what to encode.
        size: frame width and height in pixels.
        noise: standard deviation of Gaussian pixel noise as a fraction of full scale (0 = none).
        fill: share of the frame height the code (with quiet zone) takes.
        offset: shift of the code from the centre, in pixels.
        blur: Gaussian blur kernel (odd; 0 or 1 = sharp).
        seed: noise seed, so frames are reproducible.

    Raises:
        ValueError: the text does not fit, or the code cannot fit the frame at ≥ 2 px per module.
    """
    symbol = qr_modules(text)
    symbol = cv2.copyMakeBorder(symbol, QUIET_MODULES, QUIET_MODULES, QUIET_MODULES, QUIET_MODULES,
                                cv2.BORDER_CONSTANT, value=255)
    w, h = size
    scale = int(min(w, h) * fill) // symbol.shape[0]
    if scale < 2:
        raise ValueError(f"a {symbol.shape[0]}-module code does not fit a {w}x{h} frame at 2 px per module")
    code = cv2.resize(symbol, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    frame = blank_frame(size, seed, noise=0)
    side = code.shape[0]
    x = (w - side) // 2 + offset[0]
    y = (h - side) // 2 + offset[1]
    if x < 0 or y < 0 or x + side > w or y + side > h:
        raise ValueError("the code does not fit the frame at that offset")
    frame[y:y + side, x:x + side] = code[:, :, None]
    if blur and blur > 1:
        frame = cv2.GaussianBlur(frame, (blur | 1, blur | 1), 0)
    if noise:
        rng = np.random.default_rng(seed + 1)
        frame = np.clip(frame + rng.normal(0, noise * 255, frame.shape), 0, 255).astype(np.uint8)
    return frame


def _frames(texts: Sequence[str | None], size: tuple[int, int], noise: float,
            per_text: int) -> Iterable[np.ndarray]:
    for i, text in enumerate(texts):
        for j in range(per_text):
            seed = i * 1000 + j
            yield blank_frame(size, seed) if text is None else make_token_image(text, size, noise, seed=seed)


def write_image_folder(folder: str | Path, texts: Sequence[str | None], size: tuple[int, int] = (640, 480),
                       noise: float = 0.02, frames_per_text: int = 1) -> list[Path]:
    """Write ``frame_0000.png`` … into ``folder``; a None text gives a frame without a code.

    Returns:
        The written paths in order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, frame in enumerate(_frames(texts, size, noise, frames_per_text)):
        path = folder / f"frame_{n:04d}.png"
        if not cv2.imwrite(str(path), frame):
            raise OSError(f"cannot write {path}")
        paths.append(path)
    return paths


def write_video(path: str | Path, texts: Sequence[str | None], frames_per_text: int = 5, fps: float = 10.0,
                size: tuple[int, int] = (640, 480), noise: float = 0.02) -> Path:
    """Write an MJPEG ``.avi`` in which each text is shown for ``frames_per_text`` frames.

    A None text gives frames without a code (someone walking past the camera).

    Returns:
        The path written.

    Raises:
        OSError: OpenCV cannot write the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write a video to {path} (use a .avi name)")
    try:
        for frame in _frames(texts, size, noise, frames_per_text):
            writer.write(frame)
    finally:
        writer.release()
    return path
