"""Robot registry: both robots compile, frames follow the conventions, FK agrees, holds pose."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from h2s2r.core.errors import RegistryError
from h2s2r.core.robots import ROBOTS, build_robot_model, get_robot
from h2s2r.core.robots.kinematics import SiteChain, site_poses


@pytest.fixture(scope="module", params=sorted(ROBOTS))
def robot(request):
    spec = get_robot(request.param)
    model, info = build_robot_model(spec)
    return spec, model, info


def test_unknown_robot_lists_valid_names():
    with pytest.raises(RegistryError, match="iiwa_allegro") as e:
        get_robot("ur5_shadow")
    assert "iiwa_leap" in str(e.value)


def test_compiles_with_explicit_physics(robot):
    spec, model, info = robot
    assert model.nq == model.nu == 23 == len(info.joint_names)
    assert abs(model.opt.timestep - spec.physics.timestep_s) < 1e-12
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    assert model.opt.cone == mujoco.mjtCone.mjCONE_PYRAMIDAL
    assert model.opt.impratio == spec.physics.impratio
    assert info.joint_names == spec.joint_names
    for k, name in enumerate(spec.joint_names):
        assert info.qpos_adr[k] == model.jnt_qposadr[model.joint(name).id]
    assert info.joint_names[:7] == tuple(f"joint{i}" for i in range(1, 8))
    assert all(n.startswith("hand/") for n in info.joint_names[7:])
    assert np.all(np.isfinite(info.velocity_limit)) and np.all(info.velocity_limit > 0)
    assert np.all(info.joint_range[:, 0] < info.joint_range[:, 1])
    # Gains of the registry are on the actuators, in joint order.
    a = info.actuator_ids
    assert np.allclose(model.actuator_gainprm[a[:7], 0], [g.kp for g in spec.arm_gains])
    assert np.allclose(model.actuator_gainprm[a[7:], 0], spec.hand_gains.kp)
    assert np.allclose(model.actuator_biasprm[a[7:], 2], -spec.hand_gains.kd)


def test_registry_joint_order_is_checked_against_the_model():
    import dataclasses

    from h2s2r.core.robots import build_robot_spec

    spec = get_robot("iiwa_allegro")
    swapped = dataclasses.replace(
        spec, joint_names=(spec.joint_names[1], spec.joint_names[0], *spec.joint_names[2:])
    )
    with pytest.raises(ValueError, match="update the registry"):
        build_robot_spec(swapped)


def test_home_is_collision_free_and_within_limits(robot):
    _spec, model, info = robot
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    mujoco.mj_forward(model, data)
    q = data.qpos[info.qpos_adr]
    assert np.all(q >= info.joint_range[:, 0]) and np.all(q <= info.joint_range[:, 1])
    assert data.ncon == 0, [
        (model.geom(c.geom1).name, model.geom(c.geom2).name) for c in data.contact
    ]


def test_arm_rarely_touches_the_hand(robot):
    """Arm-hand contact in at most 5 % of 200 random hand postures at home: only a finger
    curled back onto the wrist. (The model has no adapter plate between flange and palm;
    before the thumb's base links were excluded, they overlapped link7 in every posture.)"""
    _spec, model, info = robot
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    lo, hi = info.joint_range[7:, 0], info.joint_range[7:, 1]
    touching = 0
    for _ in range(200):
        mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
        data.qpos[info.qpos_adr[7:]] = rng.uniform(lo, hi)
        mujoco.mj_forward(model, data)
        pairs = [
            [model.body(model.geom_bodyid[g]).name for g in (c.geom1, c.geom2)]
            for c in data.contact[: data.ncon]
        ]
        touching += any(sum(n.startswith("hand/") for n in p) == 1 for p in pairs)
    assert touching <= 10


def test_palm_frame_convention(robot):
    """x out of the palm (fingers flex toward +x), y toward the index/thumb, z to the fingers."""
    spec, model, info = robot
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)

    def tips_in_palm():
        mujoco.mj_forward(model, data)
        R = data.site_xmat[info.palm_site].reshape(3, 3)
        p = data.site_xpos[info.palm_site]
        return {f: R.T @ (data.site_xpos[s] - p) for f, s in info.fingertip_sites.items()}

    index, ring = spec.finger_map["index"], spec.finger_map["ring"]
    data.qpos[info.qpos_adr[7:]] = 0.0
    straight = tips_in_palm()
    assert straight[index][1] > straight[ring][1] + 0.05  # index on +y, ring on -y
    for f in (index, spec.finger_map["middle"], ring):
        assert straight[f][2] > 0.08  # fingers along +z, beyond the palm centre
        assert abs(straight[f][0]) < 0.06
    # Flex the index finger: its tip moves to the palm side (+x).
    mid = info.joint_range[7:11].mean(axis=1)
    data.qpos[info.qpos_adr[7:11]] = np.clip(mid + 0.6, *info.joint_range[7:11].T)
    assert tips_in_palm()[index][0] > straight[index][0] + 0.02


def test_forward_kinematics_matches_mujoco_sites(robot):
    _spec, model, info = robot
    rng = np.random.default_rng(0)
    lo, hi = info.joint_range.T
    qs = lo + rng.random((16, len(lo))) * (hi - lo)
    sites = np.array([info.palm_site, *info.fingertip_sites.values()])
    ours = site_poses(model, qs, sites)
    data = mujoco.MjData(model)
    for b, q in enumerate(qs):
        data.qpos[info.qpos_adr] = q
        mujoco.mj_kinematics(model, data)
        np.testing.assert_allclose(ours[b, :, :3, 3], data.site_xpos[sites], atol=1e-9)
        np.testing.assert_allclose(
            ours[b, :, :3, :3].reshape(-1, 9), data.site_xmat[sites], atol=1e-9
        )


def test_fingertip_jacobian_matches_finite_differences(robot):
    spec, model, info = robot
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    mujoco.mj_forward(model, data)
    site = info.fingertip_sites[spec.finger_map["index"]]
    jacp = np.zeros((3, model.nv))
    mujoco.mj_jacSite(model, data, jacp, None, site)
    q0 = data.qpos.copy()
    eps = 1e-6
    for k in range(model.nv):
        q = q0.copy()
        q[k] += eps
        p_plus = site_poses(model, q, [site])[0, 0, :3, 3]
        q[k] -= 2 * eps
        p_minus = site_poses(model, q, [site])[0, 0, :3, 3]
        np.testing.assert_allclose((p_plus - p_minus) / (2 * eps), jacp[:, k], atol=1e-6)


def test_holds_posture_under_gravity_for_2s(robot):
    """Own actuators only (PD + gravity compensation through them), after a velocity kick."""
    spec, model, info = robot
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    assert model.opt.gravity[2] < -9.0
    data.qvel[:] = np.random.default_rng(0).normal(0.0, 0.1, model.nv)  # a disturbance
    tips = np.array(list(info.fingertip_sites.values()))
    mujoco.mj_forward(model, data)
    p0 = data.site_xpos[tips].copy()
    steps = round(2.0 / model.opt.timestep)
    for _ in range(steps):
        mujoco.mj_step(model, data)
    drift = np.linalg.norm(data.site_xpos[tips] - p0, axis=1)
    assert drift.max() < 0.005, drift
    # Gravity is carried through the actuators (qfrc_actuator includes the compensation),
    # within the arm's torque limits.
    arm_torque = np.abs(data.qfrc_actuator[info.dof_adr[:7]])
    assert arm_torque.max() > 10.0
    assert np.all(arm_torque <= np.array([g.force_limit for g in spec.arm_gains]) + 1e-6)
    np.testing.assert_allclose(
        data.qfrc_actuator[info.dof_adr], data.qfrc_bias[info.dof_adr], atol=0.05
    )


def test_site_chain_matches_mujoco_pose_and_jacobian(robot):
    """The controller's batched palm pose and Jacobian against ``mj_kinematics`` and
    ``mj_jacSite`` at random configurations (arm columns, world frame)."""
    spec, model, info = robot
    arm = np.array([model.joint(n).id for n in spec.joint_names[:7]])
    chain = SiteChain(model, info.palm_site, arm)
    rng = np.random.default_rng(1)
    lo, hi = info.joint_range.T
    qs = np.zeros((8, model.nq))
    qs[:, info.qpos_adr] = lo + rng.random((8, len(lo))) * (hi - lo)
    T, J = chain(qs)
    data = mujoco.MjData(model)
    jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
    for b, q in enumerate(qs):
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        mujoco.mj_jacSite(model, data, jacp, jacr, info.palm_site)
        np.testing.assert_allclose(T[b, :3, 3], data.site_xpos[info.palm_site], atol=1e-9)
        np.testing.assert_allclose(T[b, :3, :3].ravel(), data.site_xmat[info.palm_site], atol=1e-9)
        np.testing.assert_allclose(J[b, :3], jacp[:, info.dof_adr[:7]], atol=1e-9)
        np.testing.assert_allclose(J[b, 3:], jacr[:, info.dof_adr[:7]], atol=1e-9)
