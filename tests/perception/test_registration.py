"""Depth-to-colour registration check: aligned synthetic frames pass, a shifted depth image
is measured to within 2 px, the real frame whose depth is off is flagged."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from perception.capture.registration import check_capture, depth_color_registration
from pipeline.artifacts import Capture
from tests.conftest import SHARED_DATA


def test_aligned_synthetic_frame(synth_box):
    reg = check_capture(Capture.load(synth_box / "capture"))
    assert not reg.misaligned and max(map(abs, reg.offset_px)) <= 2
    assert reg.agreement_as_recorded > 0.5


@pytest.mark.parametrize("shift", [(12, 0), (-8, 6)])
def test_shifted_depth_is_measured(synth_box, shift):
    cap = Capture.load(synth_box / "capture")
    rgb, depth = cap.read_rgb(0), cap.read_depth_m(0)
    du, dv = shift
    moved = np.roll(np.roll(depth, dv, axis=0), du, axis=1)  # depth(u) now sees colour(u-du)
    reg = depth_color_registration(rgb, moved)
    assert reg.misaligned
    assert abs(reg.offset_px[0] + du) <= 2 and abs(reg.offset_px[1] + dv) <= 2
    assert "rs.align" in reg.message("x")


def test_real_frames():
    """posecnn_ycbv_demo frame 4: its depth sits 20 px beside the colour image."""
    demo = SHARED_DATA / "posecnn_ycbv_demo"
    found = {}
    for i in (1, 3, 4, 5):
        rgb = np.asarray(Image.open(demo / f"{i:06d}-color.png"))[..., :3]
        depth = np.asarray(Image.open(demo / f"{i:06d}-depth.png")).astype(np.float32) / 1e4
        found[i] = depth_color_registration(rgb, depth)
    assert found[4].misaligned and abs(found[4].offset_px[0]) >= 16
    assert not any(found[i].misaligned for i in (1, 3, 5))


def test_no_depth_edges():
    rgb = np.zeros((96, 128, 3), np.uint8)
    reg = depth_color_registration(rgb, np.zeros((96, 128), np.float32))
    assert reg.agreement_best == 0.0 and not reg.misaligned
