"""Depth-to-colour registration check: aligned synthetic frames pass, a shifted depth image
is measured to within 2 px, real RealSense-style frames (shadows without depth) read as aligned."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from h2s2r.core.artifacts import Capture
from h2s2r.perception.capture.registration import (
    _near_hole_borders,
    check_capture,
    depth_color_registration,
    shift_depth,
)
from h2s2r.sim.synth import SynthConfig, run_synth
from tests.conftest import SHARED_DATA


@pytest.fixture(scope="module")
def short_box_capture(tmp_path_factory):
    ws = run_synth(
        SynthConfig(task="box_push", seed=4, frames=30, noise=True),
        tmp_path_factory.mktemp("reg") / "box",
    )
    return ws / "capture"


def test_aligned_synthetic_frame(synth_box):
    reg = check_capture(Capture.load(synth_box / "capture"))
    assert not reg.misaligned and max(map(abs, reg.offset_px)) <= 2
    assert reg.agreement_as_recorded > 0.5


@pytest.mark.parametrize("shift", [(12, 0), (-8, 6)])
def test_shifted_depth_is_measured(synth_box, shift):
    cap = Capture.load(synth_box / "capture")
    rgb, depth = cap.read_rgb(0), cap.read_depth_m(0)
    du, dv = shift
    moved = shift_depth(depth, (du, dv))  # depth pixel u now sees colour pixel u - du
    reg = depth_color_registration(rgb, moved)
    assert reg.misaligned
    assert abs(reg.offset_px[0] + du) <= 2 and abs(reg.offset_px[1] + dv) <= 2
    assert "rs.align" in reg.message("x")
    # Moving the depth back by the measured offset registers it again.
    back = shift_depth(moved, reg.offset_px)
    again = depth_color_registration(rgb, back)
    assert not again.misaligned and max(map(abs, again.offset_px)) <= 2
    m = 40  # away from the borders the shifts uncover
    same = np.isclose(back[m:-m, m:-m], depth[m:-m, m:-m], atol=1e-6)
    assert same.mean() > 0.95


def test_shift_depth_moves_pixels_and_leaves_no_wraparound():
    d = np.arange(20, dtype=np.float32).reshape(4, 5) + 1
    s = shift_depth(d, (2, -1))  # pixel (u, v) lands on (u + 2, v - 1)
    assert s[0, 2] == d[1, 0] and s[2, 4] == d[3, 2]
    assert (s[:, :2] == 0).all() and (s[3] == 0).all()
    assert (shift_depth(d, (9, 0)) == 0).all()


def test_frames_are_pooled(short_box_capture):
    """A scene with few depth edges: one frame can mislead, frames spread over the
    recording agree (the offset is the recording's, not the frame's)."""
    cap = Capture.load(short_box_capture)
    assert not check_capture(cap).misaligned
    idx = [0, 7, 14, 21, 29]
    rgbs = [cap.read_rgb(i) for i in idx]
    for du, dv in [(-12, 0), (8, -6), (20, 10)]:
        moved = [shift_depth(cap.read_depth_m(i), (-du, -dv)) for i in idx]
        assert depth_color_registration(rgbs, moved).offset_px == (du, dv)


def test_real_frames_read_as_aligned():
    """posecnn_ycbv_demo: the object outlines in depth (mostly the near borders of the
    stereo shadows) sit on the colour outlines; jumps alone read frames 2 and 4 as 16 and
    20 px off."""
    demo = SHARED_DATA / "posecnn_ycbv_demo"
    for i in range(1, 6):
        rgb = np.asarray(Image.open(demo / f"{i:06d}-color.png"))[..., :3]
        depth = np.asarray(Image.open(demo / f"{i:06d}-depth.png")).astype(np.float32) / 1e4
        reg = depth_color_registration(rgb, depth)
        assert not reg.misaligned and max(map(abs, reg.offset_px)) <= 4, (i, reg)


def test_hole_borders_count_only_on_the_near_side():
    depth = np.full((60, 80), 2.0, np.float32)
    depth[:, 40:] = 1.0  # a near object on the right
    depth[:, 34:40] = 0.0  # its stereo shadow on its left: no depth
    edges = _near_hole_borders(depth, 0.03)
    assert edges[:, 40].all() and not edges[:, 33].any()  # the object's side, not the wall's
    assert edges.sum() == 60


def test_no_depth_edges():
    rgb = np.zeros((96, 128, 3), np.uint8)
    reg = depth_color_registration(rgb, np.zeros((96, 128), np.float32))
    assert reg.agreement_best == 0.0 and not reg.misaligned
