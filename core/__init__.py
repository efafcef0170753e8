"""The core every stage stands on (DESIGN.md, Layers).

Artifacts and the workspace, pose math, errors, the robot registry (models, kinematics,
synergies), the controller that turns actions into joint targets, the goal path and its
advance rule, the observation function with its layout table, and the batched-environment
contract. The simulator, the exported policy's header and the deploy nodes all use these
same functions; the core imports no stage.
"""
