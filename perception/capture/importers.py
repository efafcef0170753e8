"""``h2s2r import``: recordings and folders users bring, as a ``capture/`` artifact.

Example::

    h2s2r import --from demo.bag runs/mug                      # RealSense recording
    h2s2r import --from official_demo/ runs/mug                # rgb/ depth/ cam_K.txt
    h2s2r import --from float_depth/ runs/mug --cam-k K.txt    # depth in metres (.npy/.tiff)
    h2s2r import --from rosbag2_dir/ runs/mug                  # ROS 2 bag (Image, CameraInfo)
    h2s2r import --from posecnn_ycbv_demo/ runs/ycb --depth-scale 0.0001

Formats are recognised by their content. uint16 depth keeps its units (recorded as
``depth_scale_m``); float depth (metres) becomes uint16 millimetres.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from h2s2r.core.artifacts import Capture, CaptureWriter
from h2s2r.core.artifacts.base import staged_folder
from h2s2r.core.artifacts.capture import read_cam_K
from h2s2r.core.config import check_options, option
from h2s2r.core.errors import H2S2RError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
FLOAT_DEPTH_SUFFIXES = (".npy", ".tif", ".tiff", ".exr")


@dataclass(frozen=True)
class ImportConfig:
    """Options of ``h2s2r import``."""

    source: str = ""  # recording or folder to import (--from)
    # metres per depth unit for uint16 depth (0: detect / 0.001)
    depth_scale: float = option(0.0, lo=0.0, hi=1.0)
    cam_k: str = ""  # 3×3 intrinsics file, when the source has none
    fps: float = option(0.0, lo=0.0, hi=1000.0)  # frame rate for folders without timestamps (0: 30)
    color_topic: str = ""  # ROS 2 bag: colour Image topic (default: the one found)
    depth_topic: str = ""  # ROS 2 bag: depth Image topic (default: the one found)

    def __post_init__(self) -> None:
        check_options(self)


def _frame_key(name: str) -> int:
    m = re.findall(r"\d+", name)
    return int(m[-1]) if m else -1


def _sorted_files(d: Path, suffixes) -> list[Path]:
    files = [p for p in d.iterdir() if p.suffix.lower() in suffixes]
    return sorted(files, key=lambda p: (_frame_key(p.stem), p.name))


def _frame_numbers(files: list[Path]) -> list[int] | None:
    """The frame counter in ``files``' names (sorted), or None where the names are not a
    counter: a name without digits, two files with one number, or numbers that step by
    more than 1 as a rule (timestamps, every n-th frame kept on purpose)."""
    keys = [_frame_key(p.stem) for p in files]
    if len(keys) < 2 or min(keys) < 0 or len(set(keys)) != len(keys):
        return None
    if float(np.median(np.diff(keys))) != 1.0:
        return None
    return keys


def _span(a: int, b: int, width: int) -> str:
    return f"{a:0{width}d}" if a == b else f"{a:0{width}d}–{b:0{width}d}"


def frame_gaps(files: list[Path]) -> list[tuple[int, int]]:
    """``(first, last)`` missing frame numbers wherever the counter in the (sorted) file
    names skips (``000009.png`` then ``000015.png``: ``(10, 14)``); empty where the names
    are not a frame counter (see :func:`_frame_numbers`)."""
    keys = _frame_numbers(files)
    if keys is None:
        return []
    return [(a + 1, b - 1) for a, b in itertools.pairwise(keys) if b - a > 1]


def _warn_gaps(files: list[Path], fps: float, where: str) -> list[list[int]]:
    """Warn (stderr) about gaps in the frame numbering: the capture is written frame after
    frame at one rate, so a gap becomes a jump in time. Returns the gaps (for meta.json)."""
    gaps = frame_gaps(files)
    if not gaps:
        return []
    width = max(len(m[-1]) for m in (re.findall(r"\d+", p.stem) for p in files))
    missing = sum(b - a + 1 for a, b in gaps)
    shown = ", ".join(_span(a, b, width) for a, b in gaps[:5])
    more = f" and {len(gaps) - 5} more gap(s)" if len(gaps) > 5 else ""
    print(
        f"warning: {where}: {missing} frame(s) missing from the numbering ({shown}{more}): "
        f"{missing / fps:.2f} s at {fps:g} fps that the import closes up, so time jumps "
        "there (the object moves that far in one frame; tracking and the demo's speed "
        f"suffer) — re-export the missing frames, or import only the frames on one side "
        "of the gap",
        file=sys.stderr,
    )
    return [[a, b] for a, b in gaps]


def _check_numbers_pair(rgb: list[Path], depth: list[Path]) -> None:
    """Colour and depth pair up by their order: where both are numbered, the numbers
    must agree, or frames would pair with the wrong partner from the first difference on."""
    a, b = _frame_numbers(rgb), _frame_numbers(depth)
    if a is None or b is None or a == b:
        return
    only_rgb = sorted(set(a) - set(b))
    only_depth = sorted(set(b) - set(a))
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    raise H2S2RError(
        f"{rgb[0].parent} and {depth[0].parent} are numbered differently (from "
        f"{rgb[min(i, len(rgb) - 1)].name} vs {depth[min(i, len(depth) - 1)].name}): "
        f"colour without depth {only_rgb[:10]}, depth without colour {only_depth[:10]} — "
        "remove the frames that have no partner"
    )


def _depth_scale(cfg: ImportConfig, folder: Path) -> float:
    """Metres per depth unit: ``--depth-scale``, else the folder's ``depth_scale.txt``,
    else 0.001. A flag that disagrees with the file stops the import: one of them is
    wrong, and a wrong scale gives plausible-looking but wrong poses."""
    f = folder / "depth_scale.txt"
    recorded = None
    if f.is_file():  # units per metre (YCB-Video: 10000) or metres per unit
        try:
            v = float(f.read_text().split()[0])
            if not np.isfinite(v) or v <= 0:
                raise ValueError(v)
        except (ValueError, IndexError) as e:
            raise H2S2RError(
                f"{f}: must hold one positive number (metres per depth unit, or units per "
                f"metre), got {f.read_text()[:40]!r} ({e})"
            ) from None
        recorded = 1.0 / v if v > 1 else v
    if cfg.depth_scale > 0:
        if recorded is not None and not np.isclose(cfg.depth_scale, recorded, rtol=0.01):
            raise H2S2RError(
                f"--depth-scale {cfg.depth_scale:g} disagrees with {f} ({recorded:g} m per "
                "unit): drop --depth-scale to use the file's value, or correct the file"
            )
        return cfg.depth_scale
    return 0.001 if recorded is None else recorded


def _intrinsics(cfg: ImportConfig, folder: Path) -> np.ndarray:
    path = Path(cfg.cam_k) if cfg.cam_k else folder / "cam_K.txt"
    return read_cam_K(path, "give the camera intrinsics with --cam-k FILE (3 rows of 3)")


def _open_image(path: Path, convert=np.asarray) -> np.ndarray:
    """An image file's pixels, or an error naming it (empty, truncated, not an image)."""
    try:
        with Image.open(path) as im:
            return convert(im)
    except (OSError, SyntaxError, ValueError) as e:
        size = path.stat().st_size if path.is_file() else 0
        what = "is empty (0 bytes)" if size == 0 else f"cannot be read as an image ({e})"
        raise H2S2RError(f"{path}: {what} — copy it again, or remove this frame") from e


def _read_depth(path: Path) -> tuple[np.ndarray, bool]:
    """Depth image and whether it is metric float (True) or integer units (False)."""
    if path.suffix.lower() == ".npy":
        try:
            d = np.load(path)
        except (OSError, ValueError) as e:
            raise H2S2RError(f"{path}: cannot be read as a .npy array ({e})") from e
    else:
        d = _open_image(path)
    if d.ndim != 2:
        raise H2S2RError(f"{path}: depth must be a single-channel image, got shape {d.shape}")
    if np.issubdtype(d.dtype, np.floating):
        return d.astype(np.float64), True
    if d.dtype not in (np.uint16, np.int32, np.uint32, np.int64):
        raise H2S2RError(
            f"{path}: {d.dtype} depth; expected 16-bit integer units or float "
            "metres (8-bit depth loses the range)"
        )
    if d.max() > 65535 or d.min() < 0:
        raise H2S2RError(f"{path}: depth values outside 0..65535")
    return d.astype(np.uint16), False


def import_pairs(
    rgb_files: list[Path],
    depth_files: list[Path],
    out: Path,
    K: np.ndarray,
    fps: float,
    depth_scale_m: float,
    source: str,
    config: dict,
    progress=None,
) -> Capture:
    if not rgb_files:
        raise H2S2RError(f"{source}: no colour images found")
    if len(rgb_files) != len(depth_files):
        raise H2S2RError(
            f"{source}: {len(rgb_files)} colour images but {len(depth_files)} "
            "depth images; they must pair up one to one"
        )
    first_float = None
    writer = None
    for i, (c, d) in enumerate(zip(rgb_files, depth_files, strict=True)):
        rgb = _open_image(c, lambda im: np.asarray(im.convert("RGB")))
        depth, is_float = _read_depth(d)
        if writer is not None and writer.size not in (None, (rgb.shape[1], rgb.shape[0])):
            raise H2S2RError(
                f"{c}: {rgb.shape[1]}×{rgb.shape[0]}, but the first frame "
                f"({rgb_files[0].name}) is {writer.size[0]}×{writer.size[1]}: one image size "
                "per import — import each recording into its own workspace, or remove the "
                "other recording's frames"
            )
        if first_float is None:
            first_float = is_float
            scale = 0.001 if is_float else depth_scale_m
            writer = CaptureWriter(out, K, fps, depth_scale_m=scale, source=source, config=config)
        elif is_float != first_float:
            raise H2S2RError(f"{d}: mixes float and integer depth with earlier frames")
        if depth.shape != rgb.shape[:2]:
            raise H2S2RError(
                f"{d}: depth {depth.shape[1]}×{depth.shape[0]} does not match "
                f"colour {rgb.shape[1]}×{rgb.shape[0]}: depth must be aligned to "
                "colour"
            )
        assert writer is not None
        writer.add(rgb, depth)
        if progress:
            progress(i + 1, len(rgb_files))
    assert writer is not None
    return writer.close()


def _has_layout(folder: Path) -> bool:
    """``folder`` holds a layout :func:`import_folder` reads: ``rgb/`` and ``depth/``, or
    colour images named ``*color*`` / ``*rgb*`` (each with a ``*depth*`` beside it)."""
    if (folder / "rgb").is_dir() and (folder / "depth").is_dir():
        return True
    return any(
        p.is_file() and re.search(r"(color|rgb)", p.stem, re.I)
        for p in _sorted_files(folder, IMAGE_SUFFIXES)
    )


def _no_layout(src: Path, cfg: ImportConfig) -> str:
    """Why ``src`` is not a folder to import, and where the takes are when they sit one
    folder down (``session/take_01/{rgb,depth}``)."""
    takes = [d for d in sorted(src.iterdir()) if d.is_dir() and _has_layout(d)]
    if not takes:
        return (
            f"{src}: not a folder this importer knows: expected rgb/ and depth/ subfolders, "
            "or *-color.png with *-depth.png pairs"
        )
    names = ", ".join(f"{d.name}/" for d in takes[:5]) + (
        f" and {len(takes) - 5} more" if len(takes) > 5 else ""
    )
    cam_k = ""
    if not cfg.cam_k and (src / "cam_K.txt").is_file() and not (takes[0] / "cam_K.txt").is_file():
        cam_k = f" --cam-k {src / 'cam_K.txt'}"
    one = " (one take per workspace)" if len(takes) > 1 else ""
    return (
        f"{src}: holds no rgb/ and depth/ (nor *-color/*-depth pairs), but its sub-folder"
        f"{'s' if len(takes) > 1 else ''} {names} {'do' if len(takes) > 1 else 'does'}: "
        f"give the take itself{one}: --from {takes[0]}{cam_k}"
    )


def import_folder(src: Path, out: Path, cfg: ImportConfig, progress=None) -> Capture:
    """``rgb/`` + ``depth/`` subfolders (official layout), or ``*-color`` / ``*-depth`` pairs."""
    if not _has_layout(src):  # before the intrinsics: a take one folder down has its own
        raise H2S2RError(_no_layout(src, cfg))
    K = _intrinsics(cfg, src)
    fps = cfg.fps or 30.0
    config = asdict(cfg)
    if (src / "rgb").is_dir() and (src / "depth").is_dir():
        rgb = _sorted_files(src / "rgb", IMAGE_SUFFIXES)
        depth = _sorted_files(src / "depth", (".png", *FLOAT_DEPTH_SUFFIXES))
        if rgb and depth:
            _check_numbers_pair(rgb, depth)
    else:
        rgb = _sorted_files(src, IMAGE_SUFFIXES)
        rgb = [p for p in rgb if p.is_file() and re.search(r"(color|rgb)", p.stem, re.I)]
        depth = []
        for p in rgb:
            stem = re.sub(r"(color|rgb)", "depth", p.stem, flags=re.I)
            match = [
                src / f"{stem}{s}"
                for s in (".png", *FLOAT_DEPTH_SUFFIXES)
                if (src / f"{stem}{s}").is_file()
            ]
            if not match:
                raise H2S2RError(f"{p}: no depth image {stem}.png next to it")
            depth.append(match[0])
    scale = _depth_scale(cfg, src)
    if cfg.depth_scale > 0 and _read_depth(depth[0])[1]:
        raise H2S2RError(
            f"--depth-scale {cfg.depth_scale:g}: {depth[0]} holds float depth, which is read "
            "as metres (the scale applies to 16-bit integer depth only): drop --depth-scale"
        )
    gaps = _warn_gaps(rgb, fps, str(src))
    if gaps:
        config["frame_gaps"] = gaps  # missing frame numbers (first, last), in meta.json
    return import_pairs(rgb, depth, out, K, fps, scale, f"folder:{src}", config, progress)


def import_realsense(src: Path, out: Path, cfg: ImportConfig, progress=None) -> Capture:
    """SDK playback (not real time) of a RealSense recording."""
    from h2s2r.perception.capture.realsense import PlaybackSource

    source = PlaybackSource(str(src))
    info = source.start()
    writer = CaptureWriter(
        out,
        info.K,
        info.fps,
        depth_scale_m=info.depth_scale_m,
        source=f"realsense-recording:{src.name}",
        config=asdict(cfg),
    )
    last = None
    try:
        while True:
            fp = source.wait(1000)
            if fp is None:
                break
            if last is not None and fp.frame_number <= last:
                break  # the recording looped
            last = fp.frame_number
            writer.add(fp.rgb, fp.depth)
            if progress:
                progress(writer.n, writer.n)
    finally:
        source.stop()
    if writer.n == 0:
        raise H2S2RError(f"{src}: no colour+depth frame pairs in the recording")
    return writer.close()


def import_rosbag(src: Path, out: Path, cfg: ImportConfig, progress=None) -> Capture:
    """A ROS 2 bag with ``sensor_msgs/Image`` colour and depth and ``CameraInfo``.

    Colour and depth are paired by timestamp: the slower stream sets the frame rate, each
    of its frames takes the nearest frame of the other stream within half a period.
    """
    from rosbags.highlevel import AnyReader

    try:
        reader = AnyReader([src])
        reader.open()
    except Exception as e:
        raise H2S2RError(
            f"{src}: cannot be read as a ROS 2 bag ({e}) — copy the whole bag folder "
            "(metadata.yaml and every .db3/.mcap file) again"
        ) from e
    with contextlib.closing(reader):
        images = [c for c in reader.connections if c.msgtype == "sensor_msgs/msg/Image"]
        infos = [c for c in reader.connections if c.msgtype == "sensor_msgs/msg/CameraInfo"]

        def pick(wanted: str, depth: bool):
            if wanted:
                found = [c for c in images if c.topic == wanted]
                if not found:
                    raise H2S2RError(
                        f"{src}: no Image topic {wanted!r}; topics: "
                        f"{sorted(c.topic for c in images)}"
                    )
                return found[0]
            cand = [c for c in images if ("depth" in c.topic) == depth]
            if not cand:
                raise H2S2RError(
                    f"{src}: no {'depth' if depth else 'colour'} Image topic "
                    f"(topics: {sorted(c.topic for c in images)}); name it with "
                    f"--{'depth' if depth else 'color'}-topic"
                )
            return cand[0]

        ccon, dcon = pick(cfg.color_topic, False), pick(cfg.depth_topic, True)
        color, depth, K = [], [], None
        for con, _t, raw in reader.messages(connections=[ccon, dcon, *infos]):
            msg = reader.deserialize(raw, con.msgtype)
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            if con.msgtype.endswith("CameraInfo"):
                if K is None and ("color" in con.topic or "rgb" in con.topic or len(infos) == 1):
                    K = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
                continue
            (color if con is ccon else depth).append((stamp, msg))
    if K is None:
        if not cfg.cam_k:
            raise H2S2RError(f"{src}: no colour CameraInfo message; give --cam-k FILE")
        K = read_cam_K(Path(cfg.cam_k), "give a 3×3 intrinsics file")
    if not color or not depth:
        raise H2S2RError(f"{src}: needs both colour and depth images")
    ct = np.array([s for s, _ in color])
    dt_ = np.array([s for s, _ in depth])
    ref_is_color = len(ct) <= len(dt_)
    ref, other = (ct, dt_) if ref_is_color else (dt_, ct)
    period = float(np.median(np.diff(ref))) if len(ref) > 1 else 1 / 30
    fps = cfg.fps or 1.0 / period
    pairs = []
    for i, s in enumerate(ref):
        j = int(np.argmin(np.abs(other - s)))
        if abs(other[j] - s) <= period / 2:
            pairs.append((i, j) if ref_is_color else (j, i))
    if not pairs:
        raise H2S2RError(f"{src}: colour and depth timestamps never come within half a frame")
    kept = np.array([ref[i if ref_is_color else j] for i, j in pairs])
    jumps = _time_jumps(kept, 1.0 / fps)
    if jumps:
        lost = sum(d for _, d in jumps)
        shown = ", ".join(f"{d:.2f} s after frame {k}" for k, d in jumps[:5])
        print(
            f"warning: {src}: {len(jumps)} gap(s) in time between the imported frames "
            f"({shown}{' …' if len(jumps) > 5 else ''}; {lost:.2f} s in all): dropped or "
            "unpaired frames that the import closes up, so time jumps there (the object "
            "moves that far in one frame) — record again, or import the part without gaps",
            file=sys.stderr,
        )
    scale = cfg.depth_scale or 0.001
    writer = CaptureWriter(
        out,
        K,
        fps,
        depth_scale_m=scale,
        source=f"rosbag2:{src.name}",
        config=asdict(cfg)
        | {"paired_frames": len(pairs), "colour_frames": len(ct), "depth_frames": len(dt_)}
        | ({"time_gaps_s": [[k, round(d, 4)] for k, d in jumps]} if jumps else {}),
    )
    for k, (ci, di) in enumerate(pairs):
        writer.add(_ros_image(color[ci][1], color=True), _ros_depth(depth[di][1], scale))
        if progress:
            progress(k + 1, len(pairs))
    return writer.close()


def _time_jumps(t: np.ndarray, period: float) -> list[tuple[int, float]]:
    """``(k, missing_s)`` where the gap between imported frames ``k`` and ``k + 1`` is
    more than 1.5 periods: ``missing_s`` is the time the capture loses there (the gap less
    the one period it keeps)."""
    d = np.diff(np.asarray(t, dtype=np.float64))
    return [(int(k), float(d[k] - period)) for k in np.flatnonzero(d > 1.5 * period)]


def _ros_image(msg, color: bool) -> np.ndarray:
    enc = msg.encoding.lower()
    data = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if enc in ("rgb8", "bgr8"):
        img = data.reshape(msg.height, msg.step)[:, : msg.width * 3].reshape(
            msg.height, msg.width, 3
        )
        return img[..., ::-1].copy() if enc == "bgr8" else img.copy()
    raise H2S2RError(f"colour Image encoding {msg.encoding!r} is not supported (rgb8, bgr8)")


def _ros_depth(msg, scale: float) -> np.ndarray:
    enc = msg.encoding.lower()
    raw = bytes(msg.data)
    if enc in ("16uc1", "mono16"):
        d = np.frombuffer(raw, dtype=">u2" if msg.is_bigendian else "<u2")
        return d.reshape(msg.height, msg.step // 2)[:, : msg.width].astype(np.uint16)
    if enc == "32fc1":
        d = np.frombuffer(raw, dtype=">f4" if msg.is_bigendian else "<f4")
        m = d.reshape(msg.height, msg.step // 4)[:, : msg.width].astype(np.float64)
        return m  # metres; CaptureWriter converts with the capture's scale
    raise H2S2RError(f"depth Image encoding {msg.encoding!r} is not supported (16UC1, 32FC1)")


# What makes two captures the same take (meta.json's payload; not the options or paths
# that produced it).
_TAKE_KEYS = ("frames_sha256", "files", "fps", "depth_scale_m", "width", "height", "num_frames")


def run_import(ws: str | Path, cfg: ImportConfig, progress=None, log=None) -> Capture:
    """Import ``cfg.source`` into ``ws/capture``. Over an existing capture: the same take
    (identical frames, intrinsics, rate and depth scale) leaves it as it is, so nothing
    downstream goes stale; another take is refused."""
    src = Path(cfg.source)
    out = Path(ws) / "capture"
    if not src.exists():
        raise H2S2RError(f"--from {src}: does not exist")
    if src.is_file() and src.suffix.lower() in (".bag", ".db3") and _is_realsense(src):
        importer = import_realsense
    elif (src.is_dir() and (src / "metadata.yaml").is_file()) or src.suffix in (".mcap",):
        importer = import_rosbag
    elif src.is_dir():
        importer = import_folder
    else:
        raise H2S2RError(
            f"--from {src}: not a format h2s2r imports (RealSense .bag/.db3, ROS 2 "
            "bag folder, or a folder of colour and depth images)"
        )
    topics = [f"--{k}" for k in ("color-topic", "depth-topic") if getattr(cfg, k.replace("-", "_"))]
    if topics and importer is not import_rosbag:
        raise H2S2RError(
            f"{' and '.join(topics)} {'choose topics' if len(topics) > 1 else 'chooses a topic'}"
            f" of a ROS 2 bag, but --from {src} is "
            f"{'a RealSense recording' if importer is import_realsense else 'a folder of images'}"
            f": drop {' and '.join(topics)}"
        )
    if out.exists() and any(out.iterdir()):
        return _import_again(src, out, cfg, importer, progress, log or (lambda *a: None))
    # Built as .capture.partial and renamed in: a failed or killed import leaves no
    # half-written capture/ to block the retry.
    with staged_folder(out) as tmp:
        importer(src, tmp, cfg, progress)
        try:  # checked before it is moved in: a refused import leaves nothing
            Capture.load(tmp)
        except H2S2RError as e:  # named as the user knows it: capture/, not .capture.partial/
            raise H2S2RError(str(e).replace(str(tmp), str(out))) from e
    return Capture.load(out)


def _import_again(src: Path, out: Path, cfg: ImportConfig, importer, progress, log) -> Capture:
    """``capture/`` exists: import beside it and compare. The same take leaves capture/
    as it is; another is refused (replacing it would make every stage made from it
    stale)."""
    import tempfile

    meta = _take(out / "meta.json")
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".capture.check.") as d:
        tmp = Path(d) / "capture"
        tmp.mkdir()
        importer(src, tmp, cfg, progress)
        new = _take(tmp / "meta.json")
    if meta is not None and new == meta:
        log(f"{out} already holds this take (identical frames and intrinsics): left as it is")
        return Capture.load(out)
    differs = (
        ", ".join(k for k in _TAKE_KEYS if (meta or {}).get(k) != new.get(k))
        if meta is not None
        else "its meta.json does not read"
    )
    raise H2S2RError(
        f"{out} already holds another capture ({differs} differ from --from {src}) — to "
        f"replace it, delete {out} first (every stage made from it becomes stale), or "
        "import into a new workspace folder"
    )


def _take(meta_json: Path) -> dict | None:
    try:
        meta = json.loads(meta_json.read_text())
    except (OSError, ValueError):
        return None
    return {k: meta.get(k) for k in _TAKE_KEYS} if isinstance(meta, dict) else None


def _is_realsense(path: Path) -> bool:
    """RealSense recordings: ROS 1 .bag, or the SDK's own .db3 (not a ROS 2 bag folder)."""
    return path.suffix.lower() == ".bag" or not (path.parent / "metadata.yaml").is_file()
