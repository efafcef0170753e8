"""calibration stage."""

import pipeline  # noqa: F401  (sets the headless MuJoCo renderer default before mujoco loads)
