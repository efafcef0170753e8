"""MediaPipe Tasks HandLandmarker: 2D landmarks, relative 3D landmarks and handedness.

The model bundle (``hand_landmarker.task``) is not shipped by the ``mediapipe`` wheel
(1.x); it comes from ``--model``, else ``$H2S2R_HAND_MODEL``, else the user cache
(``~/.cache/h2s2r/hand_landmarker.task``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from h2s2r.core.errors import H2S2RError

MODEL_URL = (
    "https://storage.googleapis.com/mediapipe-models/hand_landmarker/hand_landmarker/"
    "float16/latest/hand_landmarker.task"
)
CACHE_PATH = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    / "h2s2r"
    / "hand_landmarker.task"
)


def resolve_model(path: str | None) -> Path:
    """The model file: ``path``, else ``$H2S2R_HAND_MODEL``, else the user cache."""
    for candidate, origin in (
        (path, "--model"),
        (os.environ.get("H2S2R_HAND_MODEL"), "$H2S2R_HAND_MODEL"),
        (str(CACHE_PATH), "the user cache"),
    ):
        if candidate:
            p = Path(candidate).expanduser()
            if p.is_file():
                return p
            if origin == "--model":
                raise H2S2RError(
                    f"{p}: hand model file from --model does not exist — give the path of "
                    f"the official hand_landmarker.task ({MODEL_URL}) with --model PATH"
                )
            if origin == "$H2S2R_HAND_MODEL":
                raise H2S2RError(
                    f"{p}: hand model file from $H2S2R_HAND_MODEL does not exist — set "
                    "H2S2R_HAND_MODEL to the path of the official hand_landmarker.task "
                    f"({MODEL_URL}) or unset it (`unset H2S2R_HAND_MODEL`; then "
                    f"{CACHE_PATH} is used), or pass --model PATH (it takes precedence)"
                )
    raise H2S2RError(
        "no MediaPipe hand model: mediapipe ≥1.x ships none. Download the official "
        f"hand_landmarker.task ({MODEL_URL}) and pass --model PATH, set H2S2R_HAND_MODEL, "
        f"or put it at {CACHE_PATH}"
    )


# What MediaPipe says when the model bundle cannot be read (not a zip, a zip without the
# two .tflite models, not a TFLite flatbuffer, …): only these blame the file.
_MODEL_ERRORS = ("zip", "flatbuffer", "tflite", "model", "file", "bundle", "open")


def is_model_error(e: Exception) -> bool:
    """Whether MediaPipe's error ``e`` from creating the landmarker is about the model
    file (it cannot be opened or read as a hand_landmarker.task) rather than an option."""
    msg = str(e).lower()
    if "option" in msg:  # "Invalid `min_detection_confidence` option: …"
        return False
    return isinstance(e, OSError) or any(w in msg for w in _MODEL_ERRORS)


@dataclass(frozen=True)
class HandDetection:
    px: np.ndarray  # (21, 2) pixel coordinates
    world: np.ndarray  # (21, 3) metres, relative to the hand centre, camera-aligned axes
    handedness: str  # "right" | "left" (true hand for a non-mirrored camera)
    score: float


class HandDetector:
    """HandLandmarker in video mode (it tracks between frames); a context manager."""

    def __init__(
        self, model: Path, num_hands: int = 2, min_detection: float = 0.3, video: bool = True
    ):
        from mediapipe.tasks.python import BaseOptions, vision

        mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
        opts = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model)),
            running_mode=mode,
            num_hands=num_hands,
            min_hand_detection_confidence=min_detection,
            min_hand_presence_confidence=min_detection,
            min_tracking_confidence=0.3,
        )
        try:
            self._det = vision.HandLandmarker.create_from_options(opts)
        except (RuntimeError, OSError, ValueError) as e:
            lines = (line.strip() for line in str(e).splitlines())
            why = " ".join(dict.fromkeys(line for line in lines if line))  # one line
            if not is_model_error(e):  # e.g. an option MediaPipe refuses: say what it said
                raise H2S2RError(
                    f"MediaPipe could not start its hand landmarker with {model}: {why} "
                    f"(num_hands={num_hands}, min_detection={min_detection}) — check the "
                    "options named there"
                ) from e
            raise H2S2RError(
                f"{model}: not a MediaPipe hand_landmarker.task ({why}) — a web page or a "
                f"partial download? Download it again from {MODEL_URL} and pass --model PATH"
            ) from e
        self.video = video

    def detect(self, rgb: np.ndarray, timestamp_ms: int = 0) -> list[HandDetection]:
        import mediapipe as mp

        img = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        r = self._det.detect_for_video(img, timestamp_ms) if self.video else self._det.detect(img)
        h, w = rgb.shape[:2]
        out = []
        for lm, wl, hd in zip(r.hand_landmarks, r.hand_world_landmarks, r.handedness, strict=True):
            px = np.array([[p.x * w, p.y * h] for p in lm])
            world = np.array([[p.x, p.y, p.z] for p in wl])
            out.append(
                HandDetection(
                    px=px,
                    world=world,
                    handedness=hd[0].category_name.lower(),
                    score=float(hd[0].score),
                )
            )
        return out

    def close(self) -> None:
        self._det.close()

    def __enter__(self) -> HandDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
