"""Bad inputs, faults and interruptions, tried as a new user would, at every stage.

A held-out probe (issue #19's kind, new cases): each case runs ``.venv/bin/h2s2r`` as a
subprocess, as a user would, on a copy of small shared fixtures (a 30-frame synthetic
demo, tracked, retargeted, trained for 256 env-steps and exported), with a timeout.
Each case carries its own expectation and is classified automatically:

- GOOD: refused (exit status != 0; for an interruption: a clean state afterwards and the
  retry works) with no traceback and a message that names the file or option at fault
  and says what to do; or, for an input that is fine, success with the right result;
- WEAK: refused without a traceback, but the message misses the file/option or the fix;
  or success (maybe with a warning) where a refusal was due, the result still right;
- BAD: a traceback, a hang (timeout), exit 0 with a wrong or meaningless result, a
  half-written artifact that blocks the retry, or earlier output corrupted.

    .venv/bin/python bench/bad_inputs.py [--round N] [-k SUBSTRING ...] [--keep | --reuse DIR]
        [--out FILE]

Cases come in rounds: round 1 (55 cases, found and fixed), round 2 (new held-out cases:
CLI help, intrinsics of another camera, image-name and format variants, masks, a left
hand, an unreachable model store, other robots and networks, kills of export, eval and
deploy, paths), round 3 (new held-out cases: a user's folder as --out, a quaternion in
ROS order, a mesh copied as ``object``, no hand seen, NaN keypoints and NaN weights, a
demo where nothing moves, a kill of retarget, YAML pitfalls and flag precedence, --resume
with another network, a full disk, symlinked policy/ and workspace, a mesh rescanned
after training, readers while train writes, bad MUJOCO_GL and ROS_DOMAIN_ID, an edited
or foreign policy/, two deploys on one ROS domain), round 4 (new held-out cases: the warp
backend's --device without a GPU, with the mujoco backend or naming two GPUs, its silent
CPU fallback, eval/export/deploy of a run trained on Warp's CPU device, --resume of a warp
run without --backend, more mini-batches than samples, a user's own warp.py on
PYTHONPATH; torchrun around eval, two torchrun jobs on one workspace, Ctrl-C of a
torchrun job, a run resumed under torchrun, WORLD_SIZE left in the shell; MuJoCo's 2 ms
step in task_config, train/ copied without config.json, --resume after retargeting to
another robot, a hang-up during `run`, the workspace as ``.``, hamer output in
millimetres, a quoted ``~``), round 5 (new held-out cases: --depth-scale 1 on
millimetre depth, color/ instead of rgb/, gaps in the frame numbers, RGBA frames, an
``fx fy cx cy`` cam_K.txt, a very long path, the C locale, HOME unset; a board pose in
Euler degrees, a --from-file that is not a rotation; task_config with a reversed range,
degrees for radians, a negative density, a misspelt reward term; a 0.5 s deploy --sim; a
workspace moved or stamped by a wrong clock after training; ``run`` over a trained
workspace with another --robot or after track-object was re-run), round 6 (new held-out
cases: import over a trained workspace, a take one folder down, float32 TIFF depth,
48-bit colour; a T_cam_base --from-file, calibrate --depth-scale 1000; a mesh in
millimetres; track-hand re-run under a trained task/; task_config with ctrl_dt_s not a
multiple of the physics step, a scalar goal_speed, success_pos_m in centimetres, an empty
rewards:; eval --presets with a typo and with spaces; a deploy robot YAML of another
robot and velocity_scale in percent; report on a misspelt path, a capture-only
workspace, a broken object_track/, a user's file named report, a killed re-report; run
re-run and with another --randomization; demo over an imported take, demo --deploy-s
-5; TMPDIR missing), round 7 (new held-out cases: eval --presets all beside --randomization
large, --path-tol-m in centimetres, train/ without best_model.pt, the eval video under
MUJOCO_GL=osmesa; demo re-run with another --task and after a Ctrl-C while it trains; run
re-run with another --episodes; report with capture/ archived and with another run's
eval/; track-hand --frame-size-tolerance below 1, a hamer hand 1.6× too large,
H2S2R_HAND_MODEL pointing nowhere; retarget's advised --max-hand-gap-frames; track-object
--texture with an OBJ, --roi in fractions, FoundationPose poses inverted; export
--checkpoint as a full path; deploy --config given the robot YAML, watchdog_ms in the robot
YAML, ROS_LOCALHOST_ONLY; calibrate --from-file with a 3×3 rotation, --check --joints in
degrees; synth YAML with the camera distance in centimetres and seed: 08; a train option
under task_config), round 8 (new held-out cases: train --backend isaaclab from .venv, an
Isaac Lab run's plain eval, eval --backend mujoco and report from .venv; eval --config with
presets as a YAML list; eval and export from a deleted current directory; SIGKILL of run
while it evaluates and of demo while it deploys, each run again; track-object, track-hand
and retarget re-run by hand with the same options; report with a hamer hand; track-hand
--min-detection 50, hamer keypoints in OpenGL axes; retarget --max-hand-gap-frames -1; a
Y-up CAD mesh with its origin at a corner, no depth on the object in the first frame;
deploy --sim --goal-speed 5, deploy --sim --camera and its report, deploy without --sim or
a robot, export while deploy --sim runs; calibrate --from-file another session's
calibration.json, --depth a colour frame; a train YAML with dashed keys, a run's
train/config.json as --config, task_config rewards with one term, a key written twice; a
workspace copied with a running command's .h2s2r.lock), round 9 (new held-out cases: a
read-only workspace under validate, eval and report; validate on two problems at once and
on a newer h2s2r's task/ schema; import with --color-topic/--depth-topic on a folder,
--cam-k beside the source's cam_K.txt, one depth frame too many, the same take imported
again; eval --no-video after a video; export --checkpoint latest to eval --policy onnx and
deploy, a user's NOTES.txt in policy/; deploy --config with sim:, a robot YAML with a
joint in no output and with object_pose on the joint_states topic, a joint_delta policy
deployed, a path with ``:=``, ``#`` and brackets; calibrate --from-file with easy_handeye2's
file; nan for float options; --config given twice; task_defaults.yaml as shipped; run
--config with task_config:; train's stdout closed; retarget while train runs; synth at
320×240 to task/; report of a robot PC's copy and of a folder that is no workspace), round 10
(new held-out cases: train/ swapped for another run's under policy/, a user's own folders
in the workspace, eval --policy onnx then a re-export; eval --policy onnx --checkpoint
latest, eval --episodes 1, eval and export re-run for the same bytes; report after a deploy
that commanded nothing and while eval runs; policy.json reformatted by an editor, policy/
without meta.json, a robot YAML watchdog_s below the policy period, deploy --sim
--activate, a deploy --config naming its robot YAML by a relative path; calibrate
--from-file as a CSV, a 3×4 [R|t] and ``ros2 topic echo /tf_static``'s output; import of
another workspace's capture/ at 15 fps and of ``*-color.png``/``*-depth.png`` pairs; synth
--max-depth-m 0.3, a Ctrl-C of synth and the retry, two synths into one folder at once;
negative seeds; 0 or negative values for options with no range; a tracking --method
without its output folder; a fresh shell without MUJOCO_GL or any README variable), round 11
(new held-out cases: calibration.json edited by hand, then validate; calibrate
--from-file twice (the same bytes?), its YAML as position/orientation and as a wxyz list
with quaternion_order, --check --joints with the 7 arm joints only; import of
float-metre .npy depth with --depth-scale, import --config holding from:, a take inside
the workspace and as the workspace; report with report/ a symlink to a web share and of
a training server's copy; every metrics.json as strict flat JSON; export --checkpoint
best_model.pt; policy.onnx alone copied from a sibling run's export; a robot YAML with
rate_hz below the policy rate and with a joint in two outputs; ROS_DOMAIN_ID set but
empty; retarget --allow-unreachable with a tiny --max-palm-residual-m and a YAML
allow_unreachable: "false"; track-hand --method ground-truth --hand left and
--smooth-half-window 100 on 30 frames; run after policy/ was deleted; export while eval
is suspended (Ctrl-Z); a train YAML with a zero-width hidden layer), round 12 (new
held-out cases: a misspelt verb, a verb without its workspace, --version; --config an
empty file, a UTF-8-BOM YAML, a tab-indented YAML, a folder, a YAML with another verb's
key and one with a key missing its _m; synth --fps 15 through retarget, the shipped
can_lift.yaml, synth --out a file; import of a CRLF cam_K.txt and one with a comment
line; track-object --roi corners swapped, --min-agreement in percent; eval after a
touch of the mesh, report twice, two validates at once; deploy --sim with 3 m start
noise; eval --presets ''; eval of ws/../ws/). Cases under
``torchrun`` run it with 2 CPU processes over gloo; torchrun's own log and failure
report (a traceback of torchrun itself) are kept apart from what h2s2r printed. The
cases live in ``bench/probe/`` (``run.py``: running and verdicts; ``fixtures.py``;
``round1.py`` … ``round12.py``; ``main.py``: this command line). ``--round N`` runs one
round (default: all). Prints a table (case, round, stage, verdict, exit status, first line of
stderr) and writes JSON with the round of each row and the counts per round (default
``bench/results/bad_inputs.json``; ``bench/results/bad_inputs_roundN.json`` for
``--round N`` > 1: ``bad_inputs_round2.json``, ``bad_inputs_round3.json``,
``bad_inputs_round4.json``, ``bad_inputs_round5.json``,
``bad_inputs_round6.json``, ``bad_inputs_round7.json``, ``bad_inputs_round8.json``,
``bad_inputs_round9.json``, ``bad_inputs_round10.json``,
``bad_inputs_round11.json``, ``bad_inputs_round12.json``). Not a
test: pytest does not collect it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: the package probe/

from probe.main import main

if __name__ == "__main__":
    main()
