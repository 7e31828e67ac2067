"""Camera QR codes: frame sources, a pure decoder, and a scanner worker thread.

Model: any camera OpenCV's ``VideoCapture`` opens (a UVC webcam on ``/dev/video0`` = index 0);
for tests and demos a video file or a folder of images stands in for the camera.
Features: :func:`open_source` (camera index, video file, image folder or single image),
:func:`decode_qr` — a pure function of one frame using ``cv2.QRCodeDetectorAruco`` (about 1.4 ms on
a 640×480 frame without a code, against 8 ms for the classic detector, so the loop stays cheap
while nobody holds a code up), and :class:`QrScanner`, which captures and decodes on a worker
thread, reports each code once per ``dedupe_s`` seconds and can hand preview frames to the screen.

OpenCV's ``VideoCapture`` does *not* open a plain folder (it wants a printf pattern such as
``img_%04d.png``, checked with OpenCV 5.0), so folders are iterated here in name order.
"""
from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from drivers.errors import ConnectionFailed, InvalidResponse, UnsupportedFeature
from drivers.messages import N_

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})
#: Largest frame side decode_qr accepts (bigger frames are a misconfigured camera, not a QR).
MAX_SIDE = 8192


class MissingQrBackend(UnsupportedFeature):
    """OpenCV is not installed or lacks ``QRCodeDetectorAruco`` (needs OpenCV ≥ 4.8)."""

    user_key = "qr_unavailable"
    user_message = N_("QR code scanning is not available on this station. Please use your card.")


class QrSourceError(ConnectionFailed):
    """The camera (or file) cannot be opened or stopped delivering frames."""

    user_key = "camera_offline"
    user_message = N_("The camera is not working right now. Please use your card or ask the staff.")


class BadFrame(InvalidResponse):
    """A frame is not an image the decoder can use (wrong type, shape or depth)."""

    user_key = QrSourceError.user_key
    user_message = QrSourceError.user_message


# -- decoding ---------------------------------------------------------------------------
_local = threading.local()


def _opencv():
    """OpenCV, imported on first use: it costs about 60 MB and 0.4 s, which a kiosk without a camera
    (and every other command that imports this module) does not pay.

    Raises:
        MissingQrBackend: OpenCV is not installed.
    """
    try:
        import cv2
    except ImportError:
        raise MissingQrBackend("OpenCV is not installed (pip install opencv-python-headless)") from None
    return cv2


def _detector():
    """The calling thread's detector (OpenCV detectors are not safe to share between threads)."""
    det = getattr(_local, "detector", None)
    if det is None:
        cv2 = _opencv()
        if not hasattr(cv2, "QRCodeDetectorAruco"):
            raise MissingQrBackend("OpenCV with cv2.QRCodeDetectorAruco is required "
                                   "(pip install opencv-python-headless)")
        det = _local.detector = cv2.QRCodeDetectorAruco()
    return det


def check_backend() -> None:
    """Raise MissingQrBackend now rather than on the first frame."""
    _detector()


def decode_qr(frame: np.ndarray) -> list[str]:
    """Decode every QR code in one frame.

    Args:
        frame: an image as OpenCV delivers it: uint8, H×W (gray), H×W×3 (BGR) or H×W×4 (BGRA).

    Returns:
        The decoded texts, in detection order, without empties or repeats ([] when there is no code).

    Raises:
        BadFrame: the frame is not such an image, or the detector rejected it.
        MissingQrBackend: OpenCV lacks the detector.
    """
    import numpy as np

    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise BadFrame(f"frame must be a uint8 numpy array, not {type(frame).__name__}"
                       f"{'/' + str(frame.dtype) if isinstance(frame, np.ndarray) else ''}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (3, 4))):
        raise BadFrame(f"frame shape {frame.shape} is not gray, BGR or BGRA")
    h, w = frame.shape[:2]
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise BadFrame(f"frame size {w}x{h} out of range")
    detector = _detector()
    cv2 = _opencv()
    if h < 21 or w < 21:          # smaller than a version-1 QR at one pixel per module
        return []
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    try:
        ok, texts, _points, _ = detector.detectAndDecodeMulti(np.ascontiguousarray(frame))
    except cv2.error as exc:
        raise BadFrame(f"QR detector rejected the frame: {exc}") from None
    if not ok:
        return []
    seen: list[str] = []
    for text in texts:
        if text and text not in seen:
            seen.append(text)
    if not seen:
        # A code was found but not read (noise on a finder pattern): the classic detector costs
        # about 14 ms but reads some of these, and this path runs only when a code is in view.
        seen = _classic_decode(frame)
    return seen


def _classic_decode(gray: np.ndarray) -> list[str]:
    cv2 = _opencv()
    det = getattr(_local, "classic", None)
    if det is None:
        det = _local.classic = cv2.QRCodeDetector()
    try:
        text, _points, _ = det.detectAndDecode(gray)
    except cv2.error:
        return []
    return [text] if text else []


# -- frame sources -----------------------------------------------------------------------
class FrameSource(ABC):
    """Where frames come from. ``read()`` returns the next frame or None at the end of a file/folder."""

    #: True for a camera: no end, and a missing frame means the camera is in trouble.
    live: bool = False

    def __init__(self, description: str) -> None:
        self.description = description

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """The next frame; None when a file or folder has no more.

        Raises:
            QrSourceError: a camera stopped delivering frames.
        """

    def close(self) -> None:  # noqa: B027 (an optional hook)
        """Release the device or file; safe to call twice."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _CaptureSource(FrameSource):
    def __init__(self, target: int | str, description: str, loop: bool = False) -> None:
        super().__init__(description)
        self._target = target
        self._loop = loop
        self._cap = _opencv().VideoCapture(target)
        if not self._cap.isOpened():
            self._cap.release()
            raise QrSourceError(f"cannot open {description}")

    def read(self) -> np.ndarray | None:
        if self._cap is None:
            raise QrSourceError(f"{self.description} is closed")
        ok, frame = self._cap.read()
        if ok and frame is not None:
            return frame
        if self.live:
            raise QrSourceError(f"{self.description} delivered no frame (unplugged or in use?)")
        if self._loop and self._cap.set(_opencv().CAP_PROP_POS_FRAMES, 0):
            ok, frame = self._cap.read()
            if ok and frame is not None:
                return frame
        return None

    def close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()


class CameraSource(_CaptureSource):
    """A camera by index (``0`` = ``/dev/video0``)."""

    live = True

    def __init__(self, index: int) -> None:
        super().__init__(index, f"camera {index}")


class VideoFileSource(_CaptureSource):
    """A video file, read once (or looped for demos)."""

    def __init__(self, path: Path, loop: bool = False) -> None:
        super().__init__(str(path), f"video {path}", loop)


class ImageFolderSource(FrameSource):
    """Image files of a folder in name order (or one image file); unreadable files are skipped."""

    def __init__(self, path: Path, loop: bool = False) -> None:
        super().__init__(f"images {path}")
        if path.is_dir():
            self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        else:
            self.files = [path]
        if not self.files:
            raise QrSourceError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {path}")
        self._loop = loop
        self._next = 0

    def read(self) -> np.ndarray | None:
        cv2 = _opencv()
        skipped = 0
        while skipped <= len(self.files):
            if self._next >= len(self.files):
                if not self._loop:
                    return None
                self._next = 0
            path = self.files[self._next]
            self._next += 1
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is not None:
                return frame
            log.warning("skipping unreadable image %s", path)
            skipped += 1
        return None


def open_source(spec: int | str | Path, loop: bool = False) -> FrameSource:
    """Open a frame source from a config value or command-line argument.

    Args:
        spec: a camera index (``0`` or ``"0"``), a video file, an image folder or one image file.
        loop: start files and folders over at the end (demo mode).

    Returns:
        The open source.

    Raises:
        QrSourceError: nothing to open under that name.
        MissingQrBackend: OpenCV is not installed.
    """
    _opencv()
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return CameraSource(int(spec))
    path = Path(spec).expanduser()
    if path.is_dir() or (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES):
        return ImageFolderSource(path, loop)
    if path.is_file():
        return VideoFileSource(path, loop)
    raise QrSourceError(f"no camera, video file or image folder at {spec!r}")


# -- the scanner ----------------------------------------------------------------------------
@dataclass(frozen=True)
class QrDecoded:
    """A code seen by the scanner.

    Attributes:
        text: the decoded text (verify it with :func:`kiosk.tokens.verify_token`).
        captured_at: ``time.monotonic()`` when the frame was in hand.
        decoded_at: ``time.monotonic()`` when decoding finished.
        frame_index: frames read from this source before this one.
    """

    text: str
    captured_at: float
    decoded_at: float
    frame_index: int


@dataclass(frozen=True)
class ScannerStatus:
    """The frame source started, ended (files) or failed (camera lost, backend missing)."""

    state: Literal["running", "camera_lost", "ended", "unavailable"]
    detail: str
    at: float
    error: Exception | None = None


class QrScanner:
    """Capture and decode on a worker thread.

    Args:
        source_spec: see :func:`open_source`.
        on_result: called on the worker thread with each :class:`QrDecoded`.
        on_frame: called on the worker thread with preview frames (BGR numpy arrays; hand them to
            the UI thread yourself — never touch widgets here).
        on_status: called with :class:`ScannerStatus` changes.
        fps: frame pacing for files and folders (a camera paces itself); None = as fast as possible.
        dedupe_s: the same text is reported at most once per this many seconds.
        preview_every: pass every n-th frame to ``on_frame``.
        retry_max_s: longest pause between attempts to reopen a lost camera.
        loop: loop files and folders (demo mode).
        clock: time source for de-duplication and timestamps (tests inject one).

    Callback exceptions are logged and do not stop the worker.
    """

    def __init__(self, source_spec: int | str | Path, on_result: Callable[[QrDecoded], None],
                 on_frame: Callable[[np.ndarray], None] | None = None,
                 on_status: Callable[[ScannerStatus], None] | None = None, fps: float | None = 15.0,
                 dedupe_s: float = 3.0, preview_every: int = 1, retry_max_s: float = 2.0,
                 loop: bool = False, clock: Callable[[], float] = time.monotonic) -> None:
        self.source_spec = source_spec
        self.on_result = on_result
        self.on_frame = on_frame
        self.on_status = on_status
        self.fps = fps
        self.dedupe_s = dedupe_s
        self.preview_every = max(1, preview_every)
        self.retry_max_s = retry_max_s
        self.loop = loop
        self.clock = clock
        self.frames_read = 0
        self.status: ScannerStatus | None = None
        self._last_reported: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> QrScanner:
        """Start the worker thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="qr-scanner", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the worker and release the source.

        Raises:
            QrSourceError: the worker is stuck in a camera read for longer than ``timeout``.
        """
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise QrSourceError(f"QR worker did not stop within {timeout:g} s")

    @property
    def running(self) -> bool:
        """True while the worker runs."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the worker to end by itself (end of a file); True if it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    def __enter__(self) -> QrScanner:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- worker ----------------------------------------------------------------------------
    def _call(self, fn, arg) -> None:
        if fn is None:
            return
        try:
            fn(arg)
        except Exception:
            log.exception("QR scanner callback failed")

    def _set_status(self, state: str, detail: str, error: Exception | None = None) -> None:
        if self.status is not None and (self.status.state, self.status.detail) == (state, detail):
            return
        (log.info if state in ("running", "ended") else log.warning)("QR source %s: %s", state, detail)
        self.status = ScannerStatus(state, detail, self.clock(), error)  # type: ignore[arg-type]
        self._call(self.on_status, self.status)

    def _fresh(self, text: str, now: float) -> bool:
        last = self._last_reported.get(text)
        if last is not None and now - last < self.dedupe_s:
            return False
        self._last_reported = {t: s for t, s in self._last_reported.items() if now - s < self.dedupe_s}
        self._last_reported[text] = now
        return True

    def _run(self) -> None:
        delay = 0.1
        while not self._stop.is_set():
            try:
                check_backend()
                source = open_source(self.source_spec, self.loop)
            except MissingQrBackend as exc:
                self._set_status("unavailable", str(exc), exc)
                return
            except QrSourceError as exc:
                self._set_status("camera_lost", str(exc), exc)
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, self.retry_max_s)
                continue
            self._set_status("running", source.description)
            delay = 0.1
            try:
                if self._pump(source):
                    self._set_status("ended", source.description)
                    return
            except QrSourceError as exc:
                self._set_status("camera_lost", str(exc), exc)
            finally:
                source.close()
            if self._stop.wait(delay):
                return

    def _pump(self, source: FrameSource) -> bool:
        """Read and decode until stop (False) or the end of a file (True)."""
        period = 1.0 / self.fps if self.fps and not source.live else 0.0
        while not self._stop.is_set():
            started = time.monotonic()
            frame = source.read()
            if frame is None:
                return True
            captured = self.clock()
            index = self.frames_read
            self.frames_read += 1
            if self.on_frame is not None and index % self.preview_every == 0:
                self._call(self.on_frame, frame)
            try:
                texts = decode_qr(frame)
            except BadFrame as exc:
                log.warning("skipping frame %d: %s", index, exc)
                texts = []
            decoded = self.clock()
            for text in texts:
                if self._fresh(text, decoded):
                    self._call(self.on_result, QrDecoded(text, captured, decoded, index))
            if period:
                self._stop.wait(max(0.0, period - (time.monotonic() - started)))
        return False
