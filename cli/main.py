"""``h2s2r``: one verb per stage (DESIGN.md).

Examples::

    h2s2r synth --task box_push --out runs/box --seed 7
    h2s2r validate runs/box
    h2s2r --help

Errors the user can fix print one line (no traceback) and exit 1.
Each verb imports its stage only when it is the verb asked for: ``h2s2r train`` needs no
perception stack, ``h2s2r --help`` imports no stage.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from h2s2r import __version__
from h2s2r.cli.environment import check_mujoco_gl, check_torchrun
from h2s2r.cli.options import add_dataclass_args, config_from_args, progress_bar
from h2s2r.core.errors import H2S2RError


@dataclasses.dataclass(frozen=True)
class Verb:
    name: str
    summary: str
    reads: str
    writes: str
    setup: Callable[[argparse.ArgumentParser], Callable[[argparse.Namespace], int]]


# ----------------------------------------------------------------------------- verbs
def _setup_synth(p: argparse.ArgumentParser):
    from h2s2r.sim.synth.synth import SynthConfig

    p.add_argument("--out", required=True, type=Path, help="workspace folder to create")
    add_dataclass_args(p, SynthConfig)

    def run(args: argparse.Namespace) -> int:
        from h2s2r.sim.synth.synth import run_synth

        cfg = config_from_args(SynthConfig, args)
        t0 = time.perf_counter()
        with progress_bar(f"synth {cfg.task} (seed {cfg.seed})") as update:
            out = run_synth(cfg, args.out, progress=update)
        dt = time.perf_counter() - t0
        print(
            f"wrote synthetic demo {cfg.task} (seed {cfg.seed}, {cfg.frames} frames, "
            f"{dt:.1f} s) to {out.resolve()}"
        )
        print(f"  capture/ object/ ground_truth/ — check with: h2s2r validate {out}")
        return 0

    return run


def _setup_track_object(p: argparse.ArgumentParser):
    from h2s2r.perception.object_track.stage import TrackObjectConfig

    p.add_argument("workspace", type=Path, help="demo workspace folder (with capture/)")
    add_dataclass_args(p, TrackObjectConfig)

    def run(args: argparse.Namespace) -> int:
        from h2s2r.perception.capture.registration import from_metrics
        from h2s2r.perception.object_track.stage import run_track_object

        cfg = config_from_args(TrackObjectConfig, args)
        with progress_bar(f"track-object ({cfg.method})") as update:
            art = run_track_object(args.workspace, cfg, progress=update)
        from h2s2r.core.artifacts.base import read_timing

        m = art.metrics
        fps = read_timing(args.workspace / "object_track").get("fps", float("nan"))
        print(
            f"wrote {args.workspace / 'object_track'}: {m['valid_fraction']:.0%} of "
            f"{int(m['num_frames'])} frames valid, {fps:.1f} frames/s"
        )
        if "trans_err_mean_m" in m:
            print(
                f"  vs ground truth: translation {m['trans_err_mean_m'] * 1e3:.1f} mm mean, "
                f"{m['trans_err_p95_m'] * 1e3:.1f} mm p95; rotation "
                f"{m['rot_err_mean_deg']:.2f}° mean; ADD-S AUC {m['add_s_auc']:.3f}"
            )
        if "object_scale_ratio" in m:
            print(
                f"  object size in the depth / mesh size: {m['object_scale_ratio']:.2f} "
                f"({int(m.get('object_scale_frames', 0))} early frames)"
            )
        reg = from_metrics(m)
        shift = (int(m.get("depth_shift_u_px", 0)), int(m.get("depth_shift_v_px", 0)))
        if reg.misaligned:
            print("warning: " + reg.message(str(args.workspace / "capture")))
        if shift != (0, 0):
            print(
                f"  the depth images were moved by {shift} px onto the colour images for "
                "tracking (--depth-shift none keeps them as recorded)"
            )
        return 0

    return run


def _setup_track_hand(p: argparse.ArgumentParser):
    from h2s2r.perception.hand_track.stage import TrackHandConfig

    p.add_argument("workspace", type=Path, help="demo workspace folder (with capture/)")
    add_dataclass_args(p, TrackHandConfig)

    def run(args: argparse.Namespace) -> int:
        from h2s2r.perception.hand_track.stage import run_track_hand

        cfg = config_from_args(TrackHandConfig, args)
        with progress_bar(f"track-hand ({cfg.method})") as update:
            art = run_track_hand(args.workspace, cfg, progress=update)
        m = art.metrics
        print(
            f"wrote {args.workspace / 'hand_track'}: {art.handedness} hand, "
            f"{m['valid_fraction']:.0%} of {int(m['num_frames'])} frames valid, wrist to "
            f"middle knuckle {m['wrist_to_middle_mcp_m'] * 100:.1f} cm"
        )
        if "hand_length_m" in m:
            print(f"  hand length {m['hand_length_m'] * 100:.1f} cm (one size for the video)")
        flagged = {
            k.removeprefix("gate_").removesuffix("_frames").replace("_", " "): int(v)
            for k, v in m.items()
            if k.startswith("gate_") and k.endswith("_frames") and v
        }
        if flagged:
            print(
                "  flagged invalid: "
                + ", ".join(f"{k} {n}" for k, n in flagged.items())
                + f" (per frame in {args.workspace / 'hand_track' / 'metrics.json'})"
            )
        if "keypoint_err_mean_m" in m:
            print(f"  vs ground truth: keypoints {m['keypoint_err_mean_m'] * 1e3:.1f} mm mean")
        return 0

    return run


def _setup_retarget(p: argparse.ArgumentParser):
    from h2s2r.sim.retarget.stage import RetargetConfig

    p.add_argument("workspace", type=Path, help="demo workspace (object_track/, hand_track/)")
    add_dataclass_args(p, RetargetConfig)

    def run(args: argparse.Namespace) -> int:
        from h2s2r.sim.retarget.stage import run_retarget

        cfg = config_from_args(RetargetConfig, args)
        with progress_bar(f"retarget ({cfg.robot})") as update:
            task = run_retarget(args.workspace, cfg, progress=update)
        import json

        m = json.loads((args.workspace / "task" / "metrics.json").read_text())
        print(
            f"wrote {args.workspace / 'task'}: motion starts at frame {task.start_idx}, "
            f"{len(task.t)} waypoints; pre-manipulation fingertips "
            f"{m['pre_fingertip_err_mean_m'] * 100:.1f} cm from their targets (max "
            f"{m['pre_fingertip_err_max_m'] * 100:.1f}), clearance "
            f"{m['pre_min_clearance_m'] * 1000:.1f} mm; see task/retarget_check.png"
        )
        return 0

    return run


def _setup_calibrate(p: argparse.ArgumentParser):
    from h2s2r.calibration.stage import CalibrateConfig

    p.add_argument("out", type=Path, help="demo workspace to write calibration/ into")
    add_dataclass_args(p, CalibrateConfig)

    def run(args: argparse.Namespace) -> int:
        from h2s2r.calibration.stage import run_calibrate

        cfg = config_from_args(CalibrateConfig, args)
        cal = run_calibrate(args.out, cfg)
        where = args.out / "calibration"
        if cfg.check:
            print(f"wrote {where / 'check.png'}")
            return 0
        t = cal.T_base_cam[:3, 3]
        print(
            f"wrote {where}: {cal.method}, camera at ({t[0]:.3f}, {t[1]:.3f}, {t[2]:.3f}) m "
            f"in the base frame, reprojection RMS {cal.reprojection_rms_px:.2f} px"
            + (
                ""
                if cal.table_plane_base is None
                else f", table at z = {-cal.table_plane_base[3] / cal.table_plane_base[2]:.3f} m"
            )
        )
        print(f"  check it: {where / 'check.png'}")
        return 0

    return run


def _setup_capture(p: argparse.ArgumentParser):
    from h2s2r.perception.capture.record import CaptureConfig

    p.add_argument("workspace", type=Path, help="new demo workspace (capture/ is written)")
    add_dataclass_args(p, CaptureConfig)

    def run(args: argparse.Namespace) -> int:
        from h2s2r.perception.capture.record import run_capture

        cap = run_capture(args.workspace, config_from_args(CaptureConfig, args))
        print(f"wrote {cap.root}: {cap.num_frames} frames")
        return 0

    return run


def _setup_import(p: argparse.ArgumentParser):
    from h2s2r.perception.capture.importers import ImportConfig

    p.add_argument("workspace", type=Path, help="new demo workspace (capture/ is written)")
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        help="RealSense .bag/.db3, ROS 2 bag folder, or folder of images",
    )
    add_dataclass_args(p, ImportConfig, skip=("source",))

    def run(args: argparse.Namespace) -> int:
        from h2s2r.perception.capture.importers import run_import
        from h2s2r.perception.capture.registration import check_capture

        cfg = config_from_args(ImportConfig, args)
        said: list[str] = []
        with progress_bar("import") as update:
            cap = run_import(args.workspace, cfg, progress=update, log=said.append)
        for line in said:
            print(line)
        print(
            f"{'kept' if said else 'wrote'} {cap.root}: {cap.num_frames} frames "
            f"{cap.width}×{cap.height} @ {cap.fps:.1f} fps, depth scale "
            f"{cap.depth_scale_m:g} m/unit"
        )
        reg = check_capture(cap)
        if reg.misaligned:
            print("warning: " + reg.message(str(cap.root)))
        if cap.num_frames < 30:
            print(
                f"warning: only {cap.num_frames} frames ({cap.num_frames / cap.fps:.1f} s): a "
                "demo holds the whole manipulation, from the hand's approach to the release "
                "(retarget needs the object to move)",
                file=sys.stderr,
            )
        return 0

    return run


def _setup_train(p: argparse.ArgumentParser):
    from h2s2r.policy.config import TrainConfig

    p.add_argument("workspace", type=Path, help="demo workspace (with task/ and object/)")
    add_dataclass_args(p, TrainConfig)

    def run(args: argparse.Namespace) -> int:
        from h2s2r.cli.backends import check_task_config, env_factory
        from h2s2r.policy.train import run_train

        cfg = config_from_args(TrainConfig, args)
        check_task_config(cfg, " + ".join(map(str, args.config or ["train"])))
        unit = "env-steps" if cfg.total_steps else "s"
        if int(os.environ.get("RANK", "0")) > 0:  # a torchrun follower: rank 0 reports
            run_train(args.workspace, cfg, env_factory(cfg.backend), log=lambda *a: None)
            return 0
        with progress_bar(f"train ({cfg.num_envs} worlds, {unit})") as update:
            run_train(args.workspace, cfg, env_factory(cfg.backend), progress=update)
        return 0

    return run


def _setup_eval(p: argparse.ArgumentParser):
    from h2s2r.policy.evaluate import EvalConfig

    p.add_argument("workspace", type=Path, help="demo workspace (with train/)")
    add_dataclass_args(p, EvalConfig)

    def run(args: argparse.Namespace) -> int:
        from h2s2r.cli.backends import env_factory
        from h2s2r.policy.config import saved_train_config
        from h2s2r.policy.evaluate import run_eval

        cfg = check_presets(config_from_args(EvalConfig, args))
        make_env = env_factory(cfg.backend or saved_train_config(args.workspace).backend)
        with progress_bar(f"eval ({cfg.episodes} episodes × 3 methods, steps)") as update:
            run_eval(args.workspace, cfg, make_env, progress=update)
        return 0

    return run


def check_presets(cfg):
    """``EvalConfig.presets``: ``all`` expanded, each name checked before any work."""
    from h2s2r.sim.tasks.track_demo import DR_PRESETS

    if cfg.presets.strip() == "all":
        cfg = dataclasses.replace(cfg, presets=",".join(DR_PRESETS))
    for name in [cfg.randomization, *cfg.preset_list()]:
        if name not in DR_PRESETS:
            raise H2S2RError(
                f"--presets/--randomization: unknown randomization preset {name!r} — use "
                f"one of {', '.join(DR_PRESETS)} (or --presets all)"
            )
    return cfg


def _setup_export(p: argparse.ArgumentParser):
    p.add_argument("workspace", type=Path, help="demo workspace (with train/)")
    p.add_argument(
        "--checkpoint",
        default="best",
        help="best (the best validation run in training), latest, or a file in train/",
    )

    def run(args: argparse.Namespace) -> int:
        from h2s2r.cli.backends import env_factory
        from h2s2r.policy.config import saved_train_config
        from h2s2r.policy.export import run_export

        make_env = env_factory(saved_train_config(args.workspace).side_backend())
        run_export(args.workspace, make_env, args.checkpoint)
        return 0

    return run


def _setup_deploy(p: argparse.ArgumentParser):
    from h2s2r.cli.deploy import DeployConfig

    p.add_argument("workspace", type=Path, help="demo workspace (with policy/ and task/)")
    add_dataclass_args(p, DeployConfig)

    def run(args: argparse.Namespace) -> int:
        from h2s2r.cli.deploy import run_deploy

        run_deploy(args.workspace, config_from_args(DeployConfig, args))
        return 0

    return run


def _setup_run(p: argparse.ArgumentParser):
    from h2s2r.cli.run import RunConfig

    p.add_argument("workspace", type=Path, help="demo workspace (with capture/)")
    add_dataclass_args(p, RunConfig)

    def run(args: argparse.Namespace) -> int:
        from h2s2r.cli.run import run_all

        page = run_all(args.workspace, config_from_args(RunConfig, args), report=True)
        print(f"done: {args.workspace.resolve()} (policy/ is ready for `h2s2r deploy`)")
        print(f"report: {page.resolve()}")
        return 0

    return run


def _setup_demo(p: argparse.ArgumentParser):
    from h2s2r.cli.run import RunConfig

    p.add_argument("workspace", type=Path, help="workspace for the embedded demo")
    p.add_argument("--task", default="box_push", help="synthetic task: box_push | can_lift")
    p.add_argument(
        "--deploy-s",
        type=float,
        default=0.0,
        help="seconds of the closing `deploy --sim` (0: one demo episode) (default: 0; >= 0)",
    )
    add_dataclass_args(p, RunConfig)

    def run(args: argparse.Namespace) -> int:
        from h2s2r.cli.run import run_all, run_stages
        from h2s2r.core.runinfo import record_stage_run
        from h2s2r.sim.synth import SynthConfig, run_synth

        if args.deploy_s < 0:
            raise H2S2RError(f"--deploy-s must be >= 0 (0: one demo episode); got {args.deploy_s}")
        ws = args.workspace
        synth = SynthConfig(task=args.task, noise=True)
        cfg = config_from_args(RunConfig, args)  # every option checked before any work
        made = []

        def make_demo() -> None:
            t0 = time.perf_counter()
            with progress_bar(f"synth {args.task}") as update:
                run_synth(synth, ws, progress=update)
            made.append(time.perf_counter() - t0)

        run_stages(ws, [("capture", dataclasses.asdict(synth), make_demo)])
        for folder in ("object", "ground_truth") if made else ():  # synth wrote them too
            record_stage_run(ws / folder, made[0], "h2s2r demo: synth")
        if args.hand_method is None:  # MediaPipe does not see the capsule hand reliably
            cfg = dataclasses.replace(cfg, hand_method="ground-truth")
            print(
                "track-hand uses the synthetic demo's ground-truth hand (MediaPipe does not "
                "reliably see the capsule hand); --hand-method mediapipe tries it"
            )
        page = run_all(ws, cfg, deploy_s=args.deploy_s, report=True)
        print(f"done: {ws.resolve()}")
        print(f"report: {page.resolve()}")
        return 0

    return run


def _setup_report(p: argparse.ArgumentParser):
    p.add_argument("workspace", type=Path, help="demo workspace folder")

    def run(args: argparse.Namespace) -> int:
        from h2s2r.report.page import build_report

        build_report(args.workspace)
        return 0

    return run


def _setup_validate(p: argparse.ArgumentParser):
    p.add_argument("workspace", type=Path, help="demo workspace folder")

    def run(args: argparse.Namespace) -> int:
        from h2s2r.core.workspace import WorkspaceError, check_workspace, workspace_writer

        loaded, problems = check_workspace(args.workspace)
        writer = workspace_writer(args.workspace)
        if writer is not None and not problems:
            print(
                f"note: `{writer.get('command', 'another h2s2r command')}` (pid "
                f"{writer.get('pid', '?')}) is writing this workspace: what it writes may "
                "change; validate again when it has finished"
            )
        for folder, art in loaded.items():
            extra = ""
            if hasattr(art, "num_frames"):
                extra = f" ({art.num_frames} frames)"
            print(f"  ok  {folder}/{extra}")
        if problems:
            raise WorkspaceError(args.workspace, problems)
        print(f"{args.workspace}: {len(loaded)} artifact(s) valid")
        return 0

    return run


VERBS: tuple[Verb, ...] = (
    Verb(
        "capture",
        "record a demo with a RealSense camera",
        "camera",
        "capture/",
        setup=_setup_capture,
    ),
    Verb(
        "import",
        "import a recording or folder as capture/",
        "files",
        "capture/",
        setup=_setup_import,
    ),
    Verb(
        "synth",
        "render a synthetic demo with ground truth",
        "task template",
        "capture/, object/, ground_truth/",
        setup=_setup_synth,
    ),
    Verb(
        "calibrate",
        "camera-to-robot calibration",
        "board images / robot poses",
        "calibration/",
        setup=_setup_calibrate,
    ),
    Verb(
        "track-object",
        "object 6-DoF pose per frame",
        "capture/, object/",
        "object/ (with --mesh), object_track/",
        setup=_setup_track_object,
    ),
    Verb(
        "track-hand",
        "21 hand keypoints per frame",
        "capture/",
        "hand_track/",
        setup=_setup_track_hand,
    ),
    Verb(
        "retarget",
        "pre-manipulation hand → robot (IK), task artifact",
        "tracks, calibration/",
        "task/",
        setup=_setup_retarget,
    ),
    Verb(
        "train",
        "PPO in parallel simulation",
        "task/",
        "train/",
        setup=_setup_train,
    ),
    Verb(
        "eval",
        "success rate vs replay baselines",
        "task/, train/",
        "eval/",
        setup=_setup_eval,
    ),
    Verb(
        "export",
        "ONNX policy + header for deployment",
        "train/",
        "policy/",
        setup=_setup_export,
    ),
    Verb(
        "deploy",
        "run the ROS 2 nodes (a simulated robot with --sim)",
        "policy/, task/, object/",
        "deploy_log/",
        setup=_setup_deploy,
    ),
    Verb(
        "run",
        "every stage after capture, in order",
        "capture/ …",
        "all",
        setup=_setup_run,
    ),
    Verb(
        "demo",
        "synth then run: the embedded default",
        "nothing",
        "all",
        setup=_setup_demo,
    ),
    Verb(
        "report",
        "HTML report of every artifact present",
        "all artifacts",
        "report/",
        setup=_setup_report,
    ),
    Verb(
        "validate",
        "check every artifact in a workspace",
        "all artifacts",
        "nothing",
        setup=_setup_validate,
    ),
)


_VERB_WRITES = {v.name: v.writes for v in VERBS}
# The verbs that may make their workspace folder; every other verb reads one a former
# command made, and refuses a missing one before anything is created.
_VERB_CREATES = frozenset({"capture", "import", "synth", "calibrate", "demo"})


class _VerbParser(argparse.ArgumentParser):
    """A verb's parser: its usage errors end with what to do (argparse says only what
    is wrong: "the following arguments are required: workspace")."""

    def error(self, message: str):
        if "required" in message and "workspace" in message:
            message += f" — give the workspace folder, e.g. `{self.prog} runs/mug`"
        super().error(f"{message} (see `{self.prog} --help`)")


def build_parser(
    verb: str | None = None,
) -> tuple[argparse.ArgumentParser, dict[str, Callable]]:
    """The parser, with the options of ``verb`` only (the other verbs' stages are not
    imported); ``None`` builds none (enough for ``h2s2r --help``)."""
    width = max(len(v.name) for v in VERBS)
    epilog = "verbs:\n" + "\n".join(
        f"  {v.name:<{width}}  {v.summary}{'' if v.setup else '  [not implemented yet]'}"
        for v in VERBS
    )
    parser = argparse.ArgumentParser(
        prog="h2s2r",
        description="Human2Sim2Robot: one RGB-D demo → a dexterous robot policy.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"h2s2r {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_VerbParser)
    runners: dict[str, Callable] = {}
    for v in VERBS:
        p = sub.add_parser(
            v.name, help=v.summary, description=f"{v.summary}. Reads {v.reads}; writes {v.writes}."
        )
        if v.name == verb:
            runners[v.name] = v.setup(p)
    return parser, runners


def _writes(verb: str) -> tuple[str, ...] | None:
    """The folders ``verb`` writes (``None``: any of them), for the workspace lock."""
    writes = _VERB_WRITES.get(verb, "all")
    return None if writes == "all" else tuple(re.findall(r"(\w+)/", writes))


def _record_run(ws: Path, args, started: float, wall_s: float, argv: list[str]) -> None:
    """Each folder this verb wrote now (its ``meta.json`` is newer than the start) gets the
    verb's wall time and ``machine.json`` (:mod:`h2s2r.core.runinfo`); ``run``/``demo``
    record each stage themselves."""
    from h2s2r.core.runinfo import record_stage_run

    for folder in [ws / f for f in _writes(args.verb) or ()]:
        meta = folder / "meta.json"
        if meta.is_file() and meta.stat().st_mtime >= started - 1.0:
            record_stage_run(folder, wall_s, "h2s2r " + " ".join(argv))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verb = next((a for a in argv if not a.startswith("-")), None)
    try:
        os.getcwd()  # torch, MKL and relative paths all fail in a deleted folder, obscurely
    except FileNotFoundError:
        print(
            "error: the current directory no longer exists (deleted or moved while this "
            "shell stayed in it): cd to an existing folder and run the command again",
            file=sys.stderr,
        )
        return 1
    try:
        if verb is not None:
            check_mujoco_gl()  # before a stage's setup imports mujoco
            check_torchrun(verb)
        parser, runners = build_parser(verb)
        args = parser.parse_args(argv)
        if args.verb is None:
            parser.print_help()
            return 2
        target = getattr(args, "workspace", None) or getattr(args, "out", None)
        # Under torchrun, rank 0 of `train` holds the lock and writes train/; the other
        # processes of the job write nothing (h2s2r.policy.distributed).
        follower = args.verb == "train" and int(os.environ.get("RANK", "0")) > 0
        if _VERB_WRITES.get(args.verb, "nothing") == "nothing" or target is None or follower:
            return runners[args.verb](args)
        from h2s2r.core.workspace import workspace_lock

        with workspace_lock(
            target,
            "h2s2r " + " ".join(argv),
            log=print,
            writes=_writes(args.verb),
            create=args.verb in _VERB_CREATES,
        ):
            started, t0 = time.time(), time.perf_counter()
            rc = runners[args.verb](args)
            if rc == 0:
                _record_run(Path(target), args, started, time.perf_counter() - t0, argv)
            return rc
    except H2S2RError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # the file system refused (permissions, space, a vanished path)
        where = f"{e.filename}: " if e.filename else ""
        if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            fix = "the disk is full (or a file-size limit was reached): free space, then run again"
        else:
            fix = "check the path, its permissions and free space"
        print(f"error: {where}{e.strerror or e} — {fix}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
