"""Object collision geometry: boxes become box primitives, other convex objects keep one
hull, non-convex ones get convex parts (CoACD) that follow the surface, mass from the
whole mesh, results cached."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from scipy.spatial import ConvexHull

from h2s2r.core.geometry import quat_to_matrix, random_quat
from h2s2r.core.robots import get_robot
from h2s2r.perception.object_track.mesh_io import read_mesh
from h2s2r.sim.collision import (
    BoxPrimitive,
    CollisionConfig,
    collision_geometry,
    concavity,
    decompose,
    fit_box,
    mesh_distance,
)
from h2s2r.sim.scene import build_task_scene
from h2s2r.sim.synth.tasks import box_mesh
from tests.conftest import SHARED_DATA


def u_mesh() -> tuple[np.ndarray, np.ndarray]:
    """A closed U-shaped block (10 × 4 × 6 cm with a 6 cm wide, 4 cm deep notch): a
    gripper could reach into the notch, which the hull would fill."""
    # The U outline in (x, z), counter-clockwise, extruded along y ∈ [-2, 2] cm.
    xz = np.array([[-5, 0], [5, 0], [5, 6], [3, 6], [3, 2], [-3, 2], [-3, 6], [-5, 6]]) / 100
    n = len(xz)
    v = np.concatenate([np.c_[xz[:, 0], np.full(n, y), xz[:, 1]] for y in (-0.02, 0.02)])
    cap = np.array([[1, 2, 3], [1, 3, 4], [0, 5, 6], [0, 6, 7], [0, 1, 4], [0, 4, 5]])
    f = [cap, cap[:, ::-1] + n]
    for i in range(n):
        j = (i + 1) % n
        f.append(np.array([[i, j + n, j], [i, i + n, j + n]]))
    f = np.concatenate(f)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    if np.einsum("ij,ij->i", a, np.cross(b, c)).sum() < 0:  # outward normals
        f = f[:, ::-1]
    return v, f


def test_scene_table_geometry_is_the_models():
    v, f = box_mesh((0.2, 0.12, 0.06))
    s = build_task_scene(get_robot("iiwa_allegro"), v, f, 0.05, table_center_xy=(0.6, 0.1))
    g = s.table_geom
    np.testing.assert_allclose(s.model.geom_pos[g][:2], s.table_center_xy)
    np.testing.assert_allclose(s.model.geom_size[g][:2], s.table_half_xy)
    assert s.model.geom_pos[g][2] + s.model.geom_size[g][2] == pytest.approx(s.table_height_m)
    assert s.table_height_m == 0.05


def test_concavity_of_convex_and_notched_shapes():
    v, f = box_mesh((0.2, 0.12, 0.06))
    assert concavity(v, f) < 1e-4
    v, f = u_mesh()
    assert 0.025 < concavity(v, f) < 0.035  # the notch: 6 cm wide (walls 3 cm off)


def test_mesh_distance_by_hand_and_against_open3d():
    """Exact distances: by hand to one triangle (its face, an edge, a vertex), and equal
    to open3d's ray-casting scene (float32) on a scanned mesh, points inside and out."""
    import open3d as o3d

    tri = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    f = np.array([[0, 1, 2]])
    p = np.array([[0.2, 0.2, 0.5], [0.5, -0.3, 0.0], [-0.3, -0.4, 0.0], [0.6, 0.6, 0.1]])
    want = [0.5, 0.3, 0.5, np.hypot(np.hypot(0.1, 0.1), 0.1)]  # face, edge, vertex, hypotenuse
    np.testing.assert_allclose(mesh_distance(p, tri, f), want, atol=1e-12)

    v, f = read_mesh(SHARED_DATA / "YCB_sim" / "meshes" / "035_power_drill.msh")
    rng = np.random.default_rng(0)
    points = rng.uniform(v.min(0) - 0.03, v.max(0) + 0.03, (2000, 3))
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(v.astype(np.float32)), o3d.core.Tensor(np.asarray(f, np.uint32))
    )
    ref = scene.compute_distance(o3d.core.Tensor(points.astype(np.float32))).numpy()
    np.testing.assert_allclose(mesh_distance(points, v, f), ref, atol=1e-6)


def test_convex_objects_keep_their_hull():
    v, f = read_mesh(SHARED_DATA / "YCB_sim" / "meshes" / "005_tomato_soup_can.msh")
    assert collision_geometry(v, f) is None
    scene = build_task_scene(get_robot("iiwa_allegro"), v, f, 0.0, object_kinematic=False)
    assert scene.object_collision_geoms == (scene.object_geom,)
    v, f = box_mesh((0.2, 0.12, 0.06))
    assert collision_geometry(v, f, CollisionConfig(method="hull")) is None


def test_box_is_found_at_any_pose_and_scanned_boxes_are_not():
    """A cuboid's hull turned and moved off the origin gives back its size and pose; a
    box with one corner cut by 3 mm, the scanned YCB cracker box and a can do not."""
    rng = np.random.default_rng(0)
    v, _ = box_mesh((0.2, 0.12, 0.06))
    R = quat_to_matrix(random_quat(rng))
    t = np.array([0.03, -0.02, 0.05])
    box = fit_box(v @ R.T + t)
    assert box is not None
    np.testing.assert_allclose(box.center_m, t, atol=1e-9)
    # The axes are the cuboid's (in some order and sign), the half extents go with them.
    axes_in_box = R.T @ box.rotation  # columns: ± unit vectors of the cuboid frame
    np.testing.assert_allclose(np.abs(axes_in_box).max(axis=0), 1.0, atol=1e-9)
    order = np.abs(axes_in_box).argmax(axis=0)
    np.testing.assert_allclose(box.half_extents_m, np.array([0.1, 0.06, 0.03])[order], atol=1e-9)
    assert np.linalg.det(box.rotation) == pytest.approx(1.0)
    cut = np.vstack([v[1:], v[0] - np.sign(v[0]) * 0.003 * np.eye(3)])  # a corner cut off
    assert fit_box(cut) is None
    for name in ("003_cracker_box", "005_tomato_soup_can"):
        mv, _ = read_mesh(SHARED_DATA / "YCB_sim" / "meshes" / f"{name}.msh")
        assert fit_box(mv) is None, name


def test_box_object_collides_as_a_box_primitive_with_the_mesh_mass():
    v, f = box_mesh((0.2, 0.12, 0.06))
    assert isinstance(collision_geometry(v, f), BoxPrimitive)
    kw = dict(object_kinematic=False, object_density=500.0)
    scene = build_task_scene(get_robot("iiwa_allegro"), v, f, 0.0, **kw)
    hull = build_task_scene(
        get_robot("iiwa_allegro"), v, f, 0.0, collision=CollisionConfig(method="hull"), **kw
    )
    m = scene.model
    (g,) = scene.object_collision_geoms
    assert m.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX
    assert m.geom_contype[scene.object_geom] == 0 == m.geom_conaffinity[scene.object_geom]
    body = m.body("object").id
    assert m.body_mass[body] == pytest.approx(0.2 * 0.12 * 0.06 * 500.0)
    np.testing.assert_allclose(m.body_inertia[body], hull.model.body_inertia[body], rtol=1e-9)
    # Dropped 1 cm onto the table, it comes to rest at the same height as the mesh does.
    rest = []
    for sc in (scene, hull):
        d = mujoco.MjData(sc.model)
        adr = sc.model.jnt_qposadr[sc.model.joint("object").id]
        d.qpos[adr : adr + 7] = [0.6, 0.3, 0.04, 1, 0, 0, 0]
        for _ in range(500):
            mujoco.mj_step(sc.model, d)
        rest.append(d.qpos[adr : adr + 7].copy())
    assert rest[0][2] == pytest.approx(0.03, abs=0.002)
    np.testing.assert_allclose(rest[0][:3], rest[1][:3], atol=0.002)


def test_notched_object_is_decomposed_and_keeps_its_mass(tmp_path, monkeypatch):
    monkeypatch.setenv("H2S2R_CACHE", str(tmp_path))
    v, f = u_mesh()
    parts = collision_geometry(v, f)
    assert parts is not None and 2 <= len(parts) <= 16
    # The parts stay within the object's bounds, fill about its volume (144 cm³) and leave
    # the notch open: its centre lies outside every part's hull.
    notch = np.array([0.0, 0.0, 0.04])
    volume = 0.0
    for pv, _ in parts:
        assert np.all(pv >= v.min(0) - 0.005) and np.all(pv <= v.max(0) + 0.005)
        hull = ConvexHull(pv)
        volume += hull.volume
        assert np.max(hull.equations[:, :3] @ notch + hull.equations[:, 3]) > 0.005
    assert volume == pytest.approx(144e-6, rel=0.25)
    scene = build_task_scene(
        get_robot("iiwa_allegro"), v, f, 0.0, object_kinematic=False, object_density=1000.0
    )
    m = scene.model
    assert len(scene.object_collision_geoms) == len(parts)
    assert m.geom_contype[scene.object_geom] == 0 == m.geom_conaffinity[scene.object_geom]
    body = m.body("object").id
    # Mass of the U (10·4·6 − 6·4·4 cm³ = 144 cm³) at 1000 kg/m³, from the whole mesh.
    assert m.body_mass[body] == pytest.approx(0.144, rel=0.05)
    # Resting on the table, the parts reach down to the object's base.
    d = mujoco.MjData(m)
    d.qpos[m.jnt_qposadr[m.joint("object").id] :][:7] = [0.6, 0.3, 0.0, 1, 0, 0, 0]
    mujoco.mj_forward(m, d)
    dist = [
        mujoco.mj_geomDistance(m, d, g, scene.table_geom, 1.0, np.zeros(6))
        for g in scene.object_collision_geoms
    ]
    assert min(dist) < 0.002
    # Cached: a second call reads the file.
    assert len(list((tmp_path / "coacd").glob("*.npz"))) == 1
    again = decompose(v, f, CollisionConfig())
    assert len(again) == len(parts)


def test_ycb_drill_is_decomposed_boxes_and_cans_are_not():
    gaps = {
        name: concavity(*read_mesh(SHARED_DATA / "YCB_sim" / "meshes" / f"{name}.msh"))
        for name in ("003_cracker_box", "005_tomato_soup_can", "035_power_drill")
    }
    limit = CollisionConfig().max_concavity_m
    assert gaps["003_cracker_box"] < limit and gaps["005_tomato_soup_can"] < limit
    assert gaps["035_power_drill"] > 0.04
