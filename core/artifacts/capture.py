"""``capture/``: the RGB-D video of the demo.

Layout (DESIGN.md): ``rgb/000000.png`` (uint8 RGB), ``depth/000000.png`` (uint16, 0 =
invalid), ``cam_K.txt`` (3×3), ``meta.json`` with ``fps``, ``width``, ``height``,
``depth_scale_m`` (metres per depth unit; 0.001 for millimetres).

Frames are not held in memory: :class:`Capture` describes the folder and reads frames on
demand; :class:`CaptureWriter` streams frames in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from h2s2r.core.artifacts.base import ArtifactBase, Provenance, sha256_files
from h2s2r.core.errors import ArtifactError

_FRAME_RE = re.compile(r"^(\d{6})\.png$")
_IMPORT_FIX = "re-import with `h2s2r import --from PATH DIR --depth-scale M`"
# Plausible range for the median valid depth of a tabletop demo, metres.
_DEPTH_RANGE_M = (0.1, 10.0)


def write_cam_K(path: Path, K: np.ndarray) -> None:
    path.write_text("\n".join(" ".join(f"{v:.10g}" for v in row) for row in np.asarray(K)) + "\n")


def read_cam_K(path: Path, fix: str) -> np.ndarray:
    """Parse a whitespace-separated 3×3 intrinsics file and sanity-check it."""
    if not path.is_file():
        raise ArtifactError(path, "is missing (3×3 camera intrinsics)", fix)
    try:
        K = np.array(
            [
                [float(v) for v in line.split()]
                for line in path.read_text().splitlines()
                if line.strip()
            ]
        )
    except ValueError as e:
        raise ArtifactError(path, f"has a value that is not a number ({e})", fix) from e
    if K.shape != (3, 3):
        raise ArtifactError(path, f"must hold 3 rows of 3 numbers, found shape {K.shape}", fix)
    if not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0 or K[2, 2] != 1.0:
        raise ArtifactError(
            path,
            f"is not a pinhole intrinsics matrix [[fx 0 cx] [0 fy cy] [0 0 1]]: {K.tolist()}",
            fix,
        )
    return K


@dataclass(frozen=True)
class Capture(ArtifactBase):
    """An RGB-D recording on disk."""

    SCHEMA: ClassVar[str] = "capture"
    VERSION: ClassVar[int] = 1
    FOLDER: ClassVar[str] = "capture"
    PRODUCER: ClassVar[str] = "h2s2r import --from PATH DIR (or capture / synth)"

    root: Path
    K: np.ndarray
    fps: float
    width: int
    height: int
    num_frames: int
    depth_scale_m: float = 0.001
    source: str = "unknown"
    provenance: Provenance = field(default_factory=Provenance)

    # ------------------------------------------------------------------ frames
    def rgb_path(self, i: int) -> Path:
        return self.root / "rgb" / f"{i:06d}.png"

    def depth_path(self, i: int) -> Path:
        return self.root / "depth" / f"{i:06d}.png"

    def read_rgb(self, i: int) -> np.ndarray:
        """Frame ``i`` as ``(H, W, 3)`` uint8 RGB."""
        return _decode(self.rgb_path(i), lambda im: np.asarray(im.convert("RGB")))

    def read_depth_raw(self, i: int) -> np.ndarray:
        """Frame ``i`` depth as stored, ``(H, W)`` uint16 (0 = invalid)."""
        return _decode(self.depth_path(i), lambda im: np.asarray(im).astype(np.uint16))

    def read_depth_m(self, i: int) -> np.ndarray:
        """Frame ``i`` depth in metres, float32 ``(H, W)``; 0 where invalid."""
        return self.read_depth_raw(i).astype(np.float32) * np.float32(self.depth_scale_m)

    @property
    def times_s(self) -> np.ndarray:
        return np.arange(self.num_frames) / self.fps

    def frames_digest(self) -> str:
        paths = [self.rgb_path(i) for i in range(self.num_frames)]
        paths += [self.depth_path(i) for i in range(self.num_frames)]
        return sha256_files(paths)

    # ------------------------------------------------------------------ io
    def save(self, folder: str | Path) -> Capture:
        """Write ``meta.json`` and ``cam_K.txt`` for frames already in ``folder``.

        Frames are written by :class:`CaptureWriter`; saving a capture somewhere else
        copies its frames first.
        """
        folder = Path(folder)
        if folder.resolve() != self.root.resolve():
            import shutil

            for sub in ("rgb", "depth"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            for i in range(self.num_frames):
                shutil.copyfile(self.rgb_path(i), folder / "rgb" / f"{i:06d}.png")
                shutil.copyfile(self.depth_path(i), folder / "depth" / f"{i:06d}.png")
        out = replace(self, root=folder)
        write_cam_K(folder / "cam_K.txt", self.K)
        self.write_meta(
            folder,
            self.provenance,
            files=["cam_K.txt"],
            extra={
                "fps": float(self.fps),
                "width": int(self.width),
                "height": int(self.height),
                "depth_scale_m": float(self.depth_scale_m),
                "num_frames": int(self.num_frames),
                "source": self.source,
                "frames_sha256": out.frames_digest(),
            },
        )
        return out

    @classmethod
    def load(
        cls, folder: str | Path, check_depth_units: bool = True, verify: bool = True
    ) -> Capture:
        """Open and validate a capture folder: every frame's format, the frame count and
        (``verify``) every frame's bytes against ``meta.json``; the first frame's units.
        Every stage reads its capture through this, so it checks what ``validate`` does."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ArtifactError(folder, "capture folder does not exist", _IMPORT_FIX)
        K = read_cam_K(folder / "cam_K.txt", _IMPORT_FIX + " --cam-k FILE")
        meta = cls.read_meta(folder)
        try:
            fps = float(meta["fps"])
            width, height = int(meta["width"]), int(meta["height"])
            scale = float(meta["depth_scale_m"])
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(
                folder / "meta.json",
                f"lacks or mangles key {e}: needs fps, width, height, depth_scale_m",
                _IMPORT_FIX,
            ) from e
        if not (fps > 0 and width > 0 and height > 0 and 0 < scale < 1):
            raise ArtifactError(
                folder / "meta.json",
                f"has fps={fps}, size={width}×{height}, depth_scale_m={scale}; need fps>0 and "
                "0<depth_scale_m<1 (metres per unit, 0.001 for mm)",
                _IMPORT_FIX,
            )
        cx, cy = K[0, 2], K[1, 2]
        if not (0 < cx < width and 0 < cy < height) or not 0.2 * width < K[0, 0] < 10 * width:
            raise ArtifactError(
                folder / "cam_K.txt",
                f"does not fit {width}×{height} images (fx {K[0, 0]:g}, principal point "
                f"({cx:g}, {cy:g})): another camera's or another resolution's intrinsics",
                "re-import with `h2s2r import --from PATH DIR --cam-k FILE` (this camera's "
                "intrinsics at this resolution)",
            )
        n = _check_frames(folder, width, height)
        if "num_frames" in meta and int(meta["num_frames"]) != n:
            raise ArtifactError(
                folder,
                f"holds {n} frames but meta.json says {int(meta['num_frames'])} (frames were "
                "added or removed after it was written)",
                _IMPORT_FIX,
            )
        cap = cls(
            root=folder,
            K=K,
            fps=fps,
            width=width,
            height=height,
            num_frames=n,
            depth_scale_m=scale,
            source=str(meta.get("source", "unknown")),
            provenance=Provenance(
                config=meta.get("config", {}),
                upstream=meta.get("upstream", {}),
                h2s2r_version=meta.get("h2s2r_version", "?"),
            ),
        )
        if verify:
            cap.verify_frames(meta)
        if check_depth_units:
            _check_depth_units(cap)
        return cap

    def verify_frames(self, meta: dict | None = None) -> None:
        """Re-hash every frame against ``meta.json`` (about 1 s per 1 GB of frames). On a
        mismatch, names the first frame that does not decode, if one does not."""
        meta = self.read_meta(self.root) if meta is None else meta
        want = meta.get("frames_sha256")
        if want is None or want == self.frames_digest():
            return
        for i in range(self.num_frames):
            self.read_rgb(i), self.read_depth_raw(i)  # an ArtifactError names a broken file
        raise ArtifactError(
            self.root,
            "frames changed after meta.json was written (a frame was edited or replaced)",
            _IMPORT_FIX,
        )


def _decode(path: Path, convert):
    """Decode an image file, or an :class:`ArtifactError` naming it (truncated, corrupt)."""
    try:
        with Image.open(path) as im:
            return convert(im)
    except (OSError, SyntaxError, ValueError) as e:
        raise ArtifactError(path, f"cannot be decoded ({e})", _IMPORT_FIX) from e


def _list_frames(folder: Path, sub: str) -> list[int]:
    d = folder / sub
    if not d.is_dir():
        raise ArtifactError(d, "folder is missing", _IMPORT_FIX)
    idx, others = [], []
    for p in d.iterdir():
        m = _FRAME_RE.match(p.name)
        if m:
            idx.append(int(m.group(1)))
        elif not p.name.startswith("."):
            others.append(p.name)
    if others and sub == "depth":
        name = sorted(others)[0]
        suffix = Path(name).suffix.lower()
        if suffix in (".npy", ".exr", ".tif", ".tiff", ".pfm"):
            raise ArtifactError(
                d / name,
                f"is a {suffix} depth file; depth must be uint16 PNG (DESIGN.md: depth/000000.png)",
                _IMPORT_FIX,
            )
    if others:
        raise ArtifactError(
            d / sorted(others)[0],
            f"is not a frame name; frames are 6-digit 0-based PNGs like {sub}/000000.png",
            _IMPORT_FIX,
        )
    return sorted(idx)


def _check_frames(folder: Path, width: int, height: int) -> int:
    rgb = _list_frames(folder, "rgb")
    depth = _list_frames(folder, "depth")
    if not rgb:
        raise ArtifactError(folder / "rgb", "holds no frames", _IMPORT_FIX)
    for sub, idx in (("rgb", rgb), ("depth", depth)):
        missing = sorted(set(range(max(idx) + 1)) - set(idx)) if idx else [0]
        if missing:
            raise ArtifactError(
                folder / sub / f"{missing[0]:06d}.png",
                f"is missing ({len(missing)} frames missing in {sub}/; frames must be numbered "
                "0..N-1 without gaps)",
                _IMPORT_FIX,
            )
    if len(rgb) != len(depth):
        raise ArtifactError(
            folder,
            f"has {len(rgb)} rgb frames but {len(depth)} depth frames; counts must match",
            _IMPORT_FIX,
        )
    for i in rgb:
        _check_png(folder / "rgb" / f"{i:06d}.png", ("RGB",), width, height, "uint8 RGB")
        _check_png(
            folder / "depth" / f"{i:06d}.png",
            ("I;16", "I;16B", "I;16L", "I"),
            width,
            height,
            "uint16 millimetres",
        )
    return len(rgb)


def _check_png(path: Path, modes: tuple[str, ...], width: int, height: int, want: str) -> None:
    try:
        with Image.open(path) as im:
            mode, size, fmt = im.mode, im.size, im.format
            # mode "I" is 32-bit: accept it only if the file is a 16-bit PNG.
            bits = im.info.get("bits") if hasattr(im, "info") else None
    except Exception as e:
        raise ArtifactError(path, f"cannot be read as an image ({e})", _IMPORT_FIX) from e
    rel = f"{path.parent.name}/{path.name}"
    if fmt != "PNG":
        raise ArtifactError(path, f"{rel} is {fmt}, not PNG", _IMPORT_FIX)
    if mode not in modes or (mode == "I" and bits not in (None, 16)):
        kind = {"F": "float32", "L": "uint8 grey", "RGBA": "RGBA", "I": "int32"}.get(mode, mode)
        raise ArtifactError(path, f"{rel} is {kind}; it must be {want}", _IMPORT_FIX)
    if size != (width, height):
        raise ArtifactError(
            path, f"{rel} is {size[0]}×{size[1]} but meta.json says {width}×{height}", _IMPORT_FIX
        )


def _check_depth_units(cap: Capture) -> None:
    """The first frame with valid depth must look like metres after scaling."""
    for i in range(min(cap.num_frames, 5)):
        raw = cap.read_depth_raw(i)
        valid = raw > 0
        if valid.mean() < 0.01:
            continue
        med = float(np.median(raw[valid])) * cap.depth_scale_m
        lo, hi = _DEPTH_RANGE_M
        if not lo <= med <= hi:
            raise ArtifactError(
                cap.depth_path(i),
                f"median depth is {med:.4g} m with depth_scale_m={cap.depth_scale_m} (expected "
                f"{lo}–{hi} m): wrong depth units",
                _IMPORT_FIX + " with the right metres-per-unit",
            )
        return
    raise ArtifactError(
        cap.root / "depth",
        "the first frames have (almost) no valid depth (all zero)",
        "check the depth stream / alignment and re-import",
    )


class CaptureWriter:
    """Stream frames into a ``capture/`` folder; ``close()`` writes metadata.

    >>> with CaptureWriter(ws / "capture", K, fps=30) as w:   # doctest: +SKIP
    ...     w.add(rgb_uint8, depth_m)
    """

    def __init__(
        self,
        folder: str | Path,
        K: np.ndarray,
        fps: float,
        depth_scale_m: float = 0.001,
        source: str = "unknown",
        config: Mapping[str, Any] | None = None,
        png_compression: int = 3,
    ):
        self.folder = Path(folder)
        self.K = np.asarray(K, dtype=np.float64)
        self.fps = fps
        self.depth_scale_m = depth_scale_m
        self.source = source
        self.config = dict(config or {})
        self.png_compression = png_compression
        self.n = 0
        self.size: tuple[int, int] | None = None
        for sub in ("rgb", "depth"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    def add(self, rgb: np.ndarray, depth: np.ndarray) -> None:
        """Append a frame: ``rgb`` uint8 (H,W,3); ``depth`` float metres or uint16 raw units."""
        import cv2

        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"rgb must be uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
        if np.issubdtype(depth.dtype, np.floating):
            d = np.where(np.isfinite(depth) & (depth > 0), depth / self.depth_scale_m, 0.0)
            depth = np.clip(np.rint(d), 0, 65535).astype(np.uint16)
        elif depth.dtype != np.uint16:
            raise ValueError(f"depth must be float metres or uint16, got {depth.dtype}")
        h, w = rgb.shape[:2]
        if depth.shape != (h, w):
            raise ValueError(f"depth {depth.shape} and rgb {rgb.shape} sizes differ")
        if self.size is None:
            self.size = (w, h)
        elif self.size != (w, h):
            raise ValueError(f"frame {self.n} is {w}×{h}, earlier frames {self.size}")
        flags = [cv2.IMWRITE_PNG_COMPRESSION, self.png_compression]
        cv2.imwrite(str(self.folder / "rgb" / f"{self.n:06d}.png"), rgb[..., ::-1], flags)
        cv2.imwrite(str(self.folder / "depth" / f"{self.n:06d}.png"), depth, flags)
        self.n += 1

    def close(self) -> Capture:
        if self.size is None:
            raise ValueError("no frames were added")
        w, h = self.size
        cap = Capture(
            root=self.folder,
            K=self.K,
            fps=self.fps,
            width=w,
            height=h,
            num_frames=self.n,
            depth_scale_m=self.depth_scale_m,
            source=self.source,
            provenance=Provenance(config=self.config),
        )
        return cap.save(self.folder)

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
