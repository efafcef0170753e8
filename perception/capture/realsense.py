"""RealSense frame sources behind one interface: a live camera, a software device (tests),
and SDK playback of a recording.

All three hand out ``pyrealsense2`` framesets; :func:`to_arrays` turns one into aligned
numpy images, so the capture loop is the same code whatever feeds it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from h2s2r.core.errors import H2S2RError


def _rs():
    try:
        import pyrealsense2 as rs
    except ImportError as e:  # libusb missing, or not installed
        raise H2S2RError(
            f"pyrealsense2 cannot be imported ({e}): run `make setup` (it installs "
            "libusb-1.0-0 and the pinned pyrealsense2)"
        ) from e
    return rs


@dataclass(frozen=True)
class StreamInfo:
    K: np.ndarray  # colour intrinsics (depth is aligned to colour)
    width: int
    height: int
    fps: float
    depth_scale_m: float
    serial: str = ""


@dataclass(frozen=True)
class FramePair:
    rgb: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) uint16, aligned to colour, device units
    frame_number: int
    timestamp_ms: float


def intrinsics_to_K(intr) -> np.ndarray:
    return np.array([[intr.fx, 0, intr.ppx], [0, intr.fy, intr.ppy], [0, 0, 1.0]])


def _already_aligned(frameset) -> bool:
    """Depth and colour share intrinsics and an identity transform (nothing to align)."""
    c, d = frameset.get_color_frame(), frameset.get_depth_frame()
    if not c or not d:
        return False
    cp, dp = c.get_profile().as_video_stream_profile(), d.get_profile().as_video_stream_profile()
    ci, di = cp.get_intrinsics(), dp.get_intrinsics()
    same = (ci.width, ci.height, ci.fx, ci.fy, ci.ppx, ci.ppy) == (
        di.width,
        di.height,
        di.fx,
        di.fy,
        di.ppx,
        di.ppy,
    )
    try:
        e = dp.get_extrinsics_to(cp)
    except RuntimeError:
        return False
    identity = np.allclose(e.rotation, np.eye(3).ravel()) and np.allclose(e.translation, 0)
    return same and identity


class FramesetSource:
    """Shared part: alignment of depth to colour and conversion to arrays."""

    def __init__(self) -> None:
        rs = _rs()
        self._align = rs.align(rs.stream.color)
        self._needs_align: bool | None = None

    def _poll(self, poll, timeout_ms: int) -> FramePair | None:
        """Poll until a colour+depth pair arrives. The SDK's blocking waits hold Python's
        GIL, which would stall every other thread (the PNG writers) while waiting."""
        deadline = time.perf_counter() + timeout_ms / 1000.0
        while time.perf_counter() < deadline:
            fs = poll()
            if fs and fs.size() > 0:
                pair = self.to_arrays(fs)
                if pair is not None:
                    return pair
            else:
                time.sleep(0.001)
        return None

    def to_arrays(self, frameset) -> FramePair | None:
        if not frameset.get_color_frame() or not frameset.get_depth_frame():
            return None
        if self._needs_align is None:
            self._needs_align = not _already_aligned(frameset)
        frames = self._align.process(frameset) if self._needs_align else frameset
        color, depth = frames.get_color_frame(), frames.get_depth_frame()
        if not color or not depth:
            return None
        rgb = np.asanyarray(color.get_data())
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise H2S2RError(
                f"colour stream format {color.get_profile().format()} is not RGB8/BGR8"
            )
        if str(color.get_profile().format()).endswith("bgr8"):
            rgb = rgb[..., ::-1]
        return FramePair(
            rgb=np.array(rgb, copy=True),
            depth=np.array(np.asanyarray(depth.get_data()), dtype=np.uint16),
            frame_number=int(color.get_frame_number()),
            timestamp_ms=float(color.get_timestamp()),
        )


class LiveCamera(FramesetSource):
    """A connected RealSense camera (``rs.pipeline``), optionally recording raw data."""

    def __init__(self, width: int, height: int, fps: int, serial: str = "", record_path: str = ""):
        super().__init__()
        rs = _rs()
        devices = rs.context().query_devices()
        if len(devices) == 0:
            raise H2S2RError(
                "no RealSense camera connected: plug it into a USB 3 port "
                "(check `lsusb`), or import a recording with `h2s2r import`"
            )
        serials = [d.get_info(rs.camera_info.serial_number) for d in devices]
        if serial and serial not in serials:
            raise H2S2RError(
                f"no RealSense camera with serial {serial}; connected: {', '.join(serials)}"
            )
        dev = devices[serials.index(serial)] if serial else devices[0]
        usb = (
            dev.get_info(rs.camera_info.usb_type_descriptor)
            if dev.supports(rs.camera_info.usb_type_descriptor)
            else "3.2"
        )
        self.cfg = rs.config()
        self.cfg.enable_device(dev.get_info(rs.camera_info.serial_number))
        self.cfg.enable_stream(rs.stream.depth, width, height, rs.format.z16, fps)
        self.cfg.enable_stream(rs.stream.color, width, height, rs.format.rgb8, fps)
        if record_path:
            self.cfg.enable_record_to_file(record_path)
        self.pipeline = rs.pipeline()
        self.mode, self.usb = (width, height, fps), usb

    def start(self) -> StreamInfo:
        rs = _rs()
        try:
            profile = self.pipeline.start(self.cfg)
        except RuntimeError as e:
            msg = str(e).lower()
            w, h, fps = self.mode
            if "busy" in msg:
                raise H2S2RError(
                    "the RealSense camera is busy: close other programs using it "
                    "(realsense-viewer, another h2s2r capture) and retry"
                ) from e
            if self.usb.startswith("2") or "resolve" in msg:
                raise H2S2RError(
                    f"the camera cannot stream {w}×{h} @ {fps} fps (USB {self.usb}): a USB 2 "
                    "link lacks bandwidth — use a USB 3 port/cable, or a lower mode such as "
                    "--width 424 --height 240 --fps 15"
                ) from e
            raise H2S2RError(f"RealSense pipeline failed to start: {e}") from e
        color = profile.get_stream(rs.stream.color).as_video_stream_profile()
        dev = profile.get_device()
        return StreamInfo(
            K=intrinsics_to_K(color.get_intrinsics()),
            width=color.width(),
            height=color.height(),
            fps=float(color.fps()),
            depth_scale_m=float(dev.first_depth_sensor().get_depth_scale()),
            serial=dev.get_info(rs.camera_info.serial_number),
        )

    def wait(self, timeout_ms: int = 2000) -> FramePair | None:
        return self._poll(self.pipeline.poll_for_frames, timeout_ms)

    def stop(self) -> None:
        self.pipeline.stop()


class PlaybackSource(FramesetSource):
    """SDK playback of a recording (``.bag`` or ``.db3``), as fast as it can be read."""

    def __init__(self, path: str):
        super().__init__()
        rs = _rs()
        self.cfg = rs.config()
        self.cfg.enable_device_from_file(path, repeat_playback=False)
        self.pipeline = rs.pipeline()
        self.path = path

    def start(self) -> StreamInfo:
        rs = _rs()
        try:
            profile = self.pipeline.start(self.cfg)
        except RuntimeError as e:
            raise H2S2RError(
                f"{self.path}: the RealSense SDK cannot play it back ({e}) — the file is "
                "incomplete or damaged: copy it again, or record the take again"
            ) from e
        dev = profile.get_device()
        dev.as_playback().set_real_time(False)
        try:
            color = profile.get_stream(rs.stream.color).as_video_stream_profile()
            scale = float(dev.first_depth_sensor().get_depth_scale())
        except RuntimeError as e:
            raise H2S2RError(f"{self.path}: needs a colour and a depth stream ({e})") from e
        return StreamInfo(
            K=intrinsics_to_K(color.get_intrinsics()),
            width=color.width(),
            height=color.height(),
            fps=float(color.fps()),
            depth_scale_m=scale,
        )

    def wait(self, timeout_ms: int = 2000) -> FramePair | None:
        return self._poll(self.pipeline.poll_for_frames, timeout_ms)

    def stop(self) -> None:
        self.pipeline.stop()


class SoftwareCamera(FramesetSource):
    """A ``pyrealsense2`` software device: frames pushed in by :meth:`push` come out of
    :meth:`wait` exactly as a camera's would (used to test capture without hardware)."""

    def __init__(
        self,
        K: np.ndarray,
        width: int = 640,
        height: int = 480,
        fps: int = 30,
        depth_scale_m: float = 0.001,
        record_path: str = "",
    ):
        super().__init__()
        rs = _rs()
        self.dev = rs.software_device()
        self.dsensor, self.csensor = self.dev.add_sensor("Depth"), self.dev.add_sensor("Color")
        intr = rs.intrinsics()
        intr.width, intr.height = width, height
        intr.fx, intr.fy, intr.ppx, intr.ppy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
        intr.model, intr.coeffs = rs.distortion.none, [0.0] * 5

        def stream(kind, uid, bpp, fmt):
            s = rs.video_stream()
            s.type, s.index, s.uid, s.width, s.height = kind, 0, uid, width, height
            s.fps, s.bpp, s.fmt, s.intrinsics = fps, bpp, fmt, intr
            return s

        self.dprof = self.dsensor.add_video_stream(stream(rs.stream.depth, 0, 2, rs.format.z16))
        self.cprof = self.csensor.add_video_stream(stream(rs.stream.color, 1, 3, rs.format.rgb8))
        self.dsensor.add_read_only_option(rs.option.depth_units, depth_scale_m)
        identity = rs.extrinsics()
        identity.rotation = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
        identity.translation = [0.0, 0.0, 0.0]
        self.dprof.register_extrinsics_to(self.cprof, identity)
        self.dev.create_matcher(rs.matchers.default)
        self.recorder = rs.recorder(record_path, self.dev) if record_path else None
        self.sync = rs.syncer(64)
        self.info = StreamInfo(
            K=np.asarray(K, float),
            width=width,
            height=height,
            fps=float(fps),
            depth_scale_m=depth_scale_m,
            serial="software",
        )
        self._bufs: list = []

    def start(self) -> StreamInfo:
        self.dsensor.open(self.dprof)
        self.csensor.open(self.cprof)
        self.dsensor.start(self.sync)
        self.csensor.start(self.sync)
        return self.info

    def push(self, rgb: np.ndarray, depth_raw: np.ndarray, frame_number: int) -> None:
        rs = _rs()
        ts = frame_number * 1000.0 / self.info.fps
        for sensor, prof, arr, bpp in (
            (self.dsensor, self.dprof, depth_raw, 2),
            (self.csensor, self.cprof, rgb, 3),
        ):
            f = rs.software_video_frame()
            arr = np.ascontiguousarray(arr)
            self._bufs = [*self._bufs[-8:], arr]  # the device reads the buffer later
            f.pixels, f.stride, f.bpp = arr, self.info.width * bpp, bpp
            f.timestamp, f.domain = ts, rs.timestamp_domain.hardware_clock
            f.frame_number, f.profile = frame_number, prof.as_video_stream_profile()
            if bpp == 2:
                f.depth_units = self.info.depth_scale_m  # the align block reads it
            sensor.on_video_frame(f)

    def wait(self, timeout_ms: int = 2000) -> FramePair | None:
        return self._poll(self.sync.poll_for_frames, timeout_ms)

    def stop(self) -> None:
        for s in (self.dsensor, self.csensor):
            s.stop()
            s.close()
        self.recorder = None  # closes the recording file
