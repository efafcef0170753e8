"""``h2s2r capture``: record a demo with a RealSense camera.

Example::

    h2s2r capture runs/mug --seconds 10            # or stop with Enter / Ctrl-C
    h2s2r capture runs/mug --record                # also keep the SDK's raw recording

The camera loop only copies frames into a queue; a pool of writer threads encodes the
PNGs, so the loop never waits on the disk. Frames the camera skipped (gaps in its frame
numbers) and frames the writers could not keep up with are counted and reported in
``capture/meta.json``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from h2s2r.core.artifacts import Capture, Provenance
from h2s2r.core.config import check_options, option
from h2s2r.core.errors import H2S2RError
from h2s2r.perception.capture.realsense import LiveCamera, StreamInfo


@dataclass(frozen=True)
class CaptureConfig:
    """Options of ``h2s2r capture``."""

    serial: str = ""  # camera serial number (default: the first camera found)
    width: int = option(640, lo=64, hi=8192)  # image width, px
    height: int = option(480, lo=48, hi=8192)  # image height, px
    fps: int = option(30, lo=1, hi=1000)  # frame rate, Hz
    seconds: float = option(0.0, lo=0.0)  # recording length; 0 = until Enter or Ctrl-C
    countdown: int = option(3, lo=0)  # seconds of countdown before recording starts
    record: bool = False  # also write the SDK's raw recording (capture/raw.db3)
    preview: bool = True  # show a live preview window when a display exists
    writers: int = option(2, lo=1, hi=64)  # PNG writer threads
    queue_frames: int = option(300, lo=1)  # frames buffered for the writers (10 s at 30 fps)

    def __post_init__(self) -> None:
        check_options(self)


@dataclass
class WriterStats:
    written: int = 0
    overflow: int = 0  # frames dropped because the writers fell behind
    busy_s: float = 0.0  # summed encode time over writer threads

    def throughput_fps(self, threads: int) -> float:
        return self.written / max(self.busy_s / max(threads, 1), 1e-9)


class AsyncFrameWriter:
    """Writes ``rgb/NNNNNN.png`` and ``depth/NNNNNN.png`` from a bounded queue of frames."""

    def __init__(
        self, folder: Path, threads: int = 2, queue_frames: int = 300, png_compression: int = 1
    ):
        self.folder = Path(folder)
        for sub in ("rgb", "depth"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self.pool = ThreadPoolExecutor(max_workers=threads)
        self.slots = threading.BoundedSemaphore(queue_frames)
        self.stats = WriterStats()
        self.threads = threads
        self.n = 0
        self._lock = threading.Lock()
        self._flags = [cv2.IMWRITE_PNG_COMPRESSION, png_compression]
        self._errors: list[BaseException] = []

    def submit(self, rgb: np.ndarray, depth_raw: np.ndarray) -> bool:
        """Queue a frame; returns False (and counts it) if the queue is full."""
        if not self.slots.acquire(blocking=False):
            self.stats.overflow += 1
            return False
        i = self.n
        self.n += 1
        self.pool.submit(self._write, i, rgb, depth_raw)
        return True

    def _write(self, i: int, rgb: np.ndarray, depth: np.ndarray) -> None:
        t0 = time.perf_counter()
        try:
            ok = cv2.imwrite(str(self.folder / "rgb" / f"{i:06d}.png"), rgb[..., ::-1], self._flags)
            ok &= cv2.imwrite(str(self.folder / "depth" / f"{i:06d}.png"), depth, self._flags)
            if not ok:
                raise OSError(f"cannot write frame {i} into {self.folder} (disk full?)")
        except BaseException as e:
            self._errors.append(e)
        finally:
            with self._lock:
                self.stats.written += 1
                self.stats.busy_s += time.perf_counter() - t0
            self.slots.release()

    def close(self) -> WriterStats:
        self.pool.shutdown(wait=True)
        if self._errors:
            raise H2S2RError(f"writing frames failed: {self._errors[0]}")
        return self.stats


def _stdin_stopper(stop: threading.Event) -> None:
    if sys.stdin is None or not sys.stdin.isatty():
        return

    def wait_enter():
        try:
            sys.stdin.readline()
        finally:
            stop.set()

    threading.Thread(target=wait_enter, daemon=True).start()


def run_capture(
    ws: str | Path,
    cfg: CaptureConfig = CaptureConfig(),
    source=None,
    stop: threading.Event | None = None,
    max_frames: int | None = None,
    log=print,
) -> Capture:
    """Record into ``ws/capture``. ``source`` defaults to the live camera; tests pass a
    :class:`~h2s2r.perception.capture.realsense.SoftwareCamera` through the same loop."""
    ws = Path(ws)
    out = ws / "capture"
    if out.exists() and any(out.iterdir()):
        raise H2S2RError(f"{out} already holds a capture — choose a new workspace")
    created = not out.exists()
    if source is None:
        out.mkdir(parents=True, exist_ok=True)
        source = LiveCamera(
            cfg.width, cfg.height, cfg.fps, cfg.serial, str(out / "raw.db3") if cfg.record else ""
        )
    try:
        info: StreamInfo = source.start()
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # no camera: leave no empty capture/ behind
        raise
    stop = stop or threading.Event()
    preview = cfg.preview and bool(os.environ.get("DISPLAY"))
    try:
        for k in range(cfg.countdown, 0, -1):
            log(f"recording in {k} …")
            t_end = time.perf_counter() + 1.0
            while time.perf_counter() < t_end:
                source.wait(1000)  # keep the stream flowing; frames are discarded
        log(
            "recording — press Enter (or Ctrl-C) to stop"
            if not cfg.seconds
            else f"recording {cfg.seconds:.0f} s"
        )
        _stdin_stopper(stop)
        writer = AsyncFrameWriter(out, cfg.writers, cfg.queue_frames)
        last, skipped, timeouts, t0 = None, 0, 0, time.perf_counter()
        try:
            while not stop.is_set():
                if cfg.seconds and time.perf_counter() - t0 >= cfg.seconds:
                    break
                if max_frames is not None and writer.n + writer.stats.overflow >= max_frames:
                    break
                fp = source.wait(2000)
                if fp is None:
                    timeouts += 1
                    if timeouts >= 3:
                        raise H2S2RError(
                            "the camera stopped sending frames (3 timeouts of 2 "
                            "s): check the cable and power"
                        )
                    continue
                timeouts = 0
                if last is not None and fp.frame_number > last + 1:
                    skipped += fp.frame_number - last - 1
                last = fp.frame_number
                writer.submit(fp.rgb, fp.depth)
                if preview:
                    cv2.imshow("h2s2r capture (Enter in the terminal stops)", fp.rgb[..., ::-1])
                    cv2.waitKey(1)
        except KeyboardInterrupt:
            log("stopping …")
        elapsed = time.perf_counter() - t0
        stats = writer.close()
    finally:
        source.stop()
        if preview:
            cv2.destroyAllWindows()
    if writer.n == 0:
        raise H2S2RError("no frame was recorded")
    cap = Capture(
        root=out,
        K=info.K,
        fps=info.fps,
        width=info.width,
        height=info.height,
        num_frames=writer.n,
        depth_scale_m=info.depth_scale_m,
        source=f"realsense:{info.serial}",
        provenance=Provenance(
            config=asdict(cfg)
            | {
                "dropped_frames_camera": skipped,
                "dropped_frames_writer": stats.overflow,
                "writer_fps": stats.throughput_fps(cfg.writers),
                "recorded_fps": writer.n / max(elapsed, 1e-9),
            }
        ),
    )
    cap = cap.save(out)
    dropped = skipped + stats.overflow
    log(
        f"recorded {writer.n} frames in {elapsed:.1f} s ({writer.n / max(elapsed, 1e-9):.1f} "
        f"fps), dropped {dropped} (camera {skipped}, writer {stats.overflow}); PNG writers "
        f"{stats.throughput_fps(cfg.writers):.0f} frames/s"
    )
    return cap
