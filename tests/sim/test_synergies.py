"""Hand synergies: PCA recovers known components; the committed per-robot synergies are
what the real recording gives; bad inputs fail with the file named."""

from __future__ import annotations

import numpy as np
import pytest

from h2s2r.core.errors import H2S2RError
from h2s2r.core.robots import ROBOTS, get_robot
from h2s2r.core.robots.synergies import N_SYNERGIES, SYNERGY_DIR, load_synergies
from h2s2r.sim.retarget.synergies import compute_synergies, pca
from tests.conftest import SHARED_DATA

KEYPOINTS = SHARED_DATA / "hand_keypoints" / "human_joint_right.npz"


def test_pca_recovers_known_components():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0][:, :3]
    coeff = rng.normal(size=(4000, 3)) * [0.6, 0.3, 0.1]
    samples = 0.2 + coeff @ basis.T + rng.normal(0, 1e-3, (4000, 16))
    mean, comps, std, frac = pca(samples, 3)
    np.testing.assert_allclose(np.abs(np.sum(comps * basis, axis=0)), 1.0, atol=1e-3)
    np.testing.assert_allclose(std, [0.6, 0.3, 0.1], rtol=0.05)
    np.testing.assert_allclose(mean, 0.2, atol=0.03)
    assert frac.sum() > 0.99 and np.all(np.diff(frac) < 0)


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_committed_synergies_are_sound(name):
    syn = load_synergies(name)
    robot = get_robot(name)
    hand = [n for n in robot.joint_names if n.startswith(robot.hand_prefix)]
    assert list(syn.joint_names) == hand
    assert syn.components.shape == (len(hand), N_SYNERGIES)
    np.testing.assert_allclose(syn.components.T @ syn.components, np.eye(N_SYNERGIES), atol=1e-5)
    assert np.all(np.diff(syn.std_rad) < 0)
    assert syn.explained_variance.sum() > 0.85  # five components carry most of real hands


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_committed_synergies_match_the_recording(name):
    """Recomputing from the real keypoints gives the committed file (same source hash)."""
    fresh = compute_synergies(name, KEYPOINTS)
    stored = load_synergies(name)
    assert fresh.source["sha256"] == stored.source["sha256"]
    np.testing.assert_allclose(fresh.components, stored.components, atol=1e-4)
    np.testing.assert_allclose(fresh.std_rad, stored.std_rad, atol=1e-4)


def test_bad_inputs(tmp_path):
    with pytest.raises(H2S2RError, match="no such file"):
        compute_synergies("iiwa_allegro", tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, joints=np.full((5, 21, 3), np.nan))
    with pytest.raises(H2S2RError, match=r"bad\.npz.*finite"):
        compute_synergies("iiwa_allegro", bad)
    with pytest.raises(
        H2S2RError, match=r"no hand synergies.*python -m h2s2r\.sim\.retarget\.synergies"
    ):
        load_synergies("no_such_robot")
    assert (SYNERGY_DIR / "iiwa_allegro.json").is_file()
