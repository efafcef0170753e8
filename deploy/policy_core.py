"""The policy node's work, without ROS: measured state in, joint targets out.

Per control step (:meth:`PolicyCore.step`), exactly what the simulator's task does:

1. advance the goal along the demo path with the simulator's rule
   (:func:`h2s2r.core.goal.advance_goal`: it waits while the object is more than
   ``pause_distance_m`` behind), except on the first step;
2. the palm and fingertip positions by forward kinematics of the measured joints (the
   simulator reads the same sites from sensors);
3. the observation with the shared function (:func:`h2s2r.core.observation.policy_observation`);
4. the exported ONNX policy (its observation normalizer inside);
5. joint targets with the shared controller (:class:`h2s2r.core.control.Controller`).

After a restart the goal resumes where the object is on the demo path
(:meth:`h2s2r.core.goal.DemoPath.nearest_time`), not at the start.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import mujoco
import numpy as np

from h2s2r.core.artifacts import PolicyExport, Task
from h2s2r.core.control import Controller, ControllerConfig
from h2s2r.core.errors import H2S2RError
from h2s2r.core.goal import DemoPath, advance_goal, keypoint_distance
from h2s2r.core.observation import (
    PolicyInputs,
    layout_table,
    policy_observation,
    robot_policy_layout,
)
from h2s2r.core.robots import get_robot


@dataclass(frozen=True)
class PolicyStep:
    """What one control step computed."""

    target: np.ndarray  # (n,) joint position targets (rad), registry order
    action: np.ndarray  # (A,) the policy's action in [-1, 1]
    observation: np.ndarray  # (P,) float32
    goal_time_s: float  # on the demo path, after this step's advance
    keypoint_distance_m: float  # object to the goal before the advance
    progress: float  # goal time / demo duration


class PolicyCore:
    """The exported policy with the task's goal path, the shared observation and
    controller; one robot (``B = 1``)."""

    def __init__(self, policy: PolicyExport, task: Task, goal_speed: float | None = None):
        import onnxruntime as ort

        h = policy.header
        self.header = h
        self.robot = get_robot(h["robot"])
        sem = h["action_semantics"]
        fields = {f.name for f in dataclasses.fields(ControllerConfig)}
        self.controller = Controller(
            self.robot, ControllerConfig(**{k: v for k, v in sem.items() if k in fields})
        )
        if self.controller.action_dim != int(sem["dim"]):
            raise H2S2RError(
                f"policy.json: action dim {sem['dim']} but the controller makes "
                f"{self.controller.action_dim}: re-run `h2s2r export`"
            )
        self.layout = robot_policy_layout(self.robot, self.controller.action_dim)
        if list(h["observation_layout"]) != layout_table(self.layout):
            raise H2S2RError("policy.json: observation layout differs: re-run `h2s2r export`")
        self.ctrl_dt_s = float(h["ctrl_dt_s"])
        goal = h["goal"]
        self.pause_m = float(goal["pause_distance_m"])
        self.next_goal_s = float(goal["next_goal_s"])
        self.keypoints = np.asarray(goal["keypoints_obj_m"], dtype=np.float64)
        # The goal moves at the middle of the speeds it moved at in training (× demo).
        lo, hi = goal["goal_speed_range"]
        self.goal_speed = float(goal_speed if goal_speed is not None else 0.5 * (lo + hi))
        self.path = DemoPath(task.t, task.object_pos_base, task.object_quat_wxyz_base)
        self.q_hand_ref = np.asarray(sem["hand_reference_qpos"], dtype=np.float64)[None]
        self.session = ort.InferenceSession(policy.onnx_bytes, providers=["CPUExecutionProvider"])
        self._model = self.controller.model
        self._data = mujoco.MjData(self._model)
        info = self.controller.info
        self._qadr = info.qpos_adr
        self._sites = [info.palm_site, *(info.fingertip_sites[f] for f in self.robot.fingertips)]
        self.reset()

    @property
    def joint_names(self) -> tuple[str, ...]:
        return self.robot.joint_names

    def reset(self) -> None:
        """Start again: the goal resumes at the object's place on the path (first step)."""
        self.goal_time: float | None = None
        self.prev_action = np.zeros(self.controller.action_dim)

    def hand_points(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fingertip ``(k, 3)`` and palm ``(3,)`` positions (base frame) for joints ``q``."""
        self._data.qpos[self._qadr] = q
        mujoco.mj_kinematics(self._model, self._data)
        p = self._data.site_xpos[self._sites]
        return p[1:].copy(), p[0].copy()

    def step(
        self, q: np.ndarray, qd: np.ndarray, obj_pos: np.ndarray, obj_quat_wxyz: np.ndarray
    ) -> PolicyStep:
        """One control step from measured joints ``q, qd (n,)`` (registry order; rad,
        rad/s) and the object's pose (base frame, wxyz)."""
        q = np.asarray(q, dtype=np.float64)
        obj_pos = np.asarray(obj_pos, dtype=np.float64)
        obj_quat = np.asarray(obj_quat_wxyz, dtype=np.float64)
        if self.goal_time is None:
            self.goal_time = self.path.nearest_time(obj_pos, obj_quat, self.keypoints)
            d = 0.0
        else:
            g_pos, g_quat = self.path.pose(np.array([self.goal_time]))
            d = float(
                keypoint_distance(obj_pos[None], obj_quat[None], g_pos, g_quat, self.keypoints)[0]
            )
            self.goal_time = float(
                advance_goal(
                    np.array([self.goal_time]),
                    np.array([self.goal_speed]),
                    np.array([d]),
                    self.ctrl_dt_s,
                    self.pause_m,
                )[0]
            )
        t = np.array([self.goal_time, self.goal_time + self.next_goal_s])
        g_pos, g_quat = self.path.pose(t)
        tips, palm = self.hand_points(q)
        progress = self.path.progress(np.array([self.goal_time]))
        obs = policy_observation(
            PolicyInputs(
                joint_pos=q[None],
                joint_vel=np.asarray(qd, dtype=np.float64)[None],
                previous_action=self.prev_action[None],
                fingertip_pos=tips[None],
                palm_pos=palm[None],
                object_pos=obj_pos[None],
                object_quat_wxyz=obj_quat[None],
                goal_pos=g_pos[:1],
                goal_quat_wxyz=g_quat[:1],
                next_goal_pos=g_pos[1:],
                next_goal_quat_wxyz=g_quat[1:],
                progress=progress,
            )
        )
        action = self.session.run(None, {"obs": obs})[0][0].astype(np.float64)
        action = np.clip(action, -1.0, 1.0)
        target = self.controller(q[None], action[None], self.q_hand_ref)[0]
        self.prev_action = action
        return PolicyStep(target, action, obs[0], self.goal_time, d, float(progress[0]))


__all__ = ["PolicyCore", "PolicyStep"]
