"""``h2s2r``: one verb per stage (DESIGN.md).

Examples::

    h2s2r synth --task box_push --out runs/box --seed 7
    h2s2r validate runs/box
    h2s2r --help

A verb whose stage does not exist yet exits with status 2 and names what is missing; it
never pretends to succeed. Errors the user can fix print one line (no traceback) and exit 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.errors import H2S2RError, MissingCapabilityError


@dataclasses.dataclass(frozen=True)
class Verb:
    name: str
    summary: str
    reads: str
    writes: str
    # None: not implemented yet; ``missing`` says which capability is absent.
    setup: Callable[[argparse.ArgumentParser], Callable[[argparse.Namespace], int]] | None = None
    missing: str = ""


# ----------------------------------------------------------------------------- helpers
def field_help(cls: type) -> dict[str, str]:
    """Help text of each dataclass field: its trailing ``# comment`` in the source."""
    try:
        src = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out = {}
    for m in re.finditer(r"^\s+(\w+):[^=\n]*=[^#\n]*#\s*(.+)$", src, flags=re.M):
        out[m.group(1)] = m.group(2).strip()
    return out


def add_dataclass_args(
    parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()
) -> None:
    """``--field-name`` options for the scalar fields of a config dataclass, plus ``--config``.

    Precedence: command-line flag > ``--config`` YAML file > the dataclass default.
    """
    helps = field_help(cls)
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML file with option values (see configs/); flags override it",
    )
    for f in dataclasses.fields(cls):
        if f.name in skip or not isinstance(f.default, (bool, int, float, str)):
            continue
        flag = "--" + f.name.replace("_", "-")
        h = f"{helps.get(f.name, '')} (default: {f.default})"
        if isinstance(f.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=h)
        else:
            parser.add_argument(flag, type=type(f.default), default=None, help=h)


def config_from_args(cls: type, args: argparse.Namespace) -> Any:
    """Build the config dataclass from ``--config`` and the flags that were given."""
    names = {f.name for f in dataclasses.fields(cls)}
    kw: dict[str, Any] = {}
    if getattr(args, "config", None) is not None:
        kw.update(load_config_file(args.config, cls))
    kw.update({n: getattr(args, n) for n in names if getattr(args, n, None) is not None})
    return cls(**kw)


def load_config_file(path: Path, cls: type) -> dict[str, Any]:
    """Option values from a YAML mapping; unknown keys fail with the valid names."""
    import yaml

    if not path.is_file():
        raise H2S2RError(f"{path}: config file does not exist — see configs/ for examples")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise H2S2RError(f"{path}: not valid YAML ({e})") from e
    if not isinstance(data, dict):
        raise H2S2RError(f"{path}: must hold a mapping of option: value")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise H2S2RError(f"{path}: unknown option(s) {unknown}; valid: {', '.join(fields)}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}


def progress_bar(description: str):
    """A rich progress bar as a context manager yielding ``update(done, total)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    class _Bar:
        def __enter__(self):
            self.p = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self.p.__enter__()
            self.task = self.p.add_task(description, total=None)
            return self.update

        def update(self, done: int, total: int) -> None:
            self.p.update(self.task, completed=done, total=total)

        def __exit__(self, *exc):
            return self.p.__exit__(*exc)

    return _Bar()


# ----------------------------------------------------------------------------- verbs
def _setup_synth(p: argparse.ArgumentParser):
    from sim.synth.synth import SynthConfig

    p.add_argument("--out", required=True, type=Path, help="workspace folder to create")
    add_dataclass_args(p, SynthConfig)

    def run(args: argparse.Namespace) -> int:
        from sim.synth.synth import run_synth

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
    from perception.object_track.stage import TrackObjectConfig

    p.add_argument("workspace", type=Path, help="demo workspace folder (with capture/)")
    add_dataclass_args(p, TrackObjectConfig)

    def run(args: argparse.Namespace) -> int:
        from perception.capture.registration import from_metrics
        from perception.object_track.stage import run_track_object

        cfg = config_from_args(TrackObjectConfig, args)
        with progress_bar(f"track-object ({cfg.method})") as update:
            art = run_track_object(args.workspace, cfg, progress=update)
        m = art.metrics
        print(
            f"wrote {args.workspace / 'object_track'}: {m['valid_fraction']:.0%} of "
            f"{int(m['num_frames'])} frames valid, {m['fps']:.1f} frames/s"
        )
        if "trans_err_mean_m" in m:
            print(
                f"  vs ground truth: translation {m['trans_err_mean_m'] * 1e3:.1f} mm mean, "
                f"{m['trans_err_p95_m'] * 1e3:.1f} mm p95; rotation "
                f"{m['rot_err_mean_deg']:.2f}° mean; ADD-S AUC {m['add_s_auc']:.3f}"
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
    from perception.hand_track.stage import TrackHandConfig

    p.add_argument("workspace", type=Path, help="demo workspace folder (with capture/)")
    add_dataclass_args(p, TrackHandConfig)

    def run(args: argparse.Namespace) -> int:
        from perception.hand_track.stage import run_track_hand

        cfg = config_from_args(TrackHandConfig, args)
        with progress_bar(f"track-hand ({cfg.method})") as update:
            art = run_track_hand(args.workspace, cfg, progress=update)
        m = art.metrics
        print(
            f"wrote {args.workspace / 'hand_track'}: {art.handedness} hand, "
            f"{m['valid_fraction']:.0%} of {int(m['num_frames'])} frames valid, wrist to "
            f"middle knuckle {m['wrist_to_middle_mcp_m'] * 100:.1f} cm"
        )
        if "keypoint_err_mean_m" in m:
            print(f"  vs ground truth: keypoints {m['keypoint_err_mean_m'] * 1e3:.1f} mm mean")
        return 0

    return run


def _setup_retarget(p: argparse.ArgumentParser):
    from sim.retarget.stage import RetargetConfig

    p.add_argument("workspace", type=Path, help="demo workspace (object_track/, hand_track/)")
    add_dataclass_args(p, RetargetConfig)

    def run(args: argparse.Namespace) -> int:
        from sim.retarget.stage import run_retarget

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
    from calibration.stage import CalibrateConfig

    p.add_argument("out", type=Path, help="demo workspace to write calibration/ into")
    add_dataclass_args(p, CalibrateConfig)

    def run(args: argparse.Namespace) -> int:
        from calibration.stage import run_calibrate

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
    from perception.capture.record import CaptureConfig

    p.add_argument("workspace", type=Path, help="new demo workspace (capture/ is written)")
    add_dataclass_args(p, CaptureConfig)

    def run(args: argparse.Namespace) -> int:
        from perception.capture.record import run_capture

        cap = run_capture(args.workspace, config_from_args(CaptureConfig, args))
        print(f"wrote {cap.root}: {cap.num_frames} frames")
        return 0

    return run


def _setup_import(p: argparse.ArgumentParser):
    from perception.capture.importers import ImportConfig

    p.add_argument("workspace", type=Path, help="new demo workspace (capture/ is written)")
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        help="RealSense .bag/.db3, ROS 2 bag folder, or folder of images",
    )
    add_dataclass_args(p, ImportConfig, skip=("source",))

    def run(args: argparse.Namespace) -> int:
        from perception.capture.importers import run_import
        from perception.capture.registration import check_capture

        cfg = config_from_args(ImportConfig, args)
        with progress_bar("import") as update:
            cap = run_import(args.workspace, cfg, progress=update)
        print(
            f"wrote {cap.root}: {cap.num_frames} frames {cap.width}×{cap.height} @ "
            f"{cap.fps:.1f} fps, depth scale {cap.depth_scale_m:g} m/unit"
        )
        reg = check_capture(cap)
        if reg.misaligned:
            print("warning: " + reg.message(str(cap.root)))
        return 0

    return run


def _setup_train(p: argparse.ArgumentParser):
    from policy.train import TrainConfig

    p.add_argument("workspace", type=Path, help="demo workspace (with task/ and object/)")
    add_dataclass_args(p, TrainConfig)

    def run(args: argparse.Namespace) -> int:
        from policy.train import run_train

        cfg = config_from_args(TrainConfig, args)
        unit = "env-steps" if cfg.total_steps else "s"
        with progress_bar(f"train ({cfg.num_envs} worlds, {unit})") as update:
            run_train(args.workspace, cfg, progress=update)
        return 0

    return run


def _setup_eval(p: argparse.ArgumentParser):
    from policy.evaluate import EvalConfig

    p.add_argument("workspace", type=Path, help="demo workspace (with train/)")
    add_dataclass_args(p, EvalConfig)

    def run(args: argparse.Namespace) -> int:
        from policy.evaluate import run_eval

        run_eval(args.workspace, config_from_args(EvalConfig, args))
        return 0

    return run


def _setup_export(p: argparse.ArgumentParser):
    p.add_argument("workspace", type=Path, help="demo workspace (with train/)")
    p.add_argument(
        "--checkpoint",
        default="best",
        help="best (the best validation run in training), latest, or a file in train/",
    )

    def run(args: argparse.Namespace) -> int:
        from policy.export import run_export

        run_export(args.workspace, args.checkpoint)
        return 0

    return run


def _setup_run(p: argparse.ArgumentParser):
    from pipeline.run import RunConfig

    p.add_argument("workspace", type=Path, help="demo workspace (with capture/)")
    add_dataclass_args(p, RunConfig)

    def run(args: argparse.Namespace) -> int:
        from pipeline.run import run_all

        run_all(args.workspace, config_from_args(RunConfig, args))
        print(f"done: {args.workspace.resolve()} (policy/ is ready for `h2s2r deploy`)")
        return 0

    return run


def _setup_demo(p: argparse.ArgumentParser):
    from pipeline.run import RunConfig

    p.add_argument("workspace", type=Path, help="new workspace for the embedded demo")
    p.add_argument("--task", default="box_push", help="synthetic task: box_push | can_lift")
    add_dataclass_args(p, RunConfig)

    def run(args: argparse.Namespace) -> int:
        from pipeline.run import run_all
        from sim.synth import SynthConfig, run_synth

        with progress_bar(f"synth {args.task}") as update:
            run_synth(SynthConfig(task=args.task, noise=True), args.workspace, progress=update)
        cfg = config_from_args(RunConfig, args)
        if args.hand_method is None:  # MediaPipe does not see the capsule hand reliably
            import dataclasses

            cfg = dataclasses.replace(cfg, hand_method="ground-truth")
            print(
                "track-hand uses the synthetic demo's ground-truth hand (MediaPipe does not "
                "reliably see the capsule hand); --hand-method mediapipe tries it"
            )
        run_all(args.workspace, cfg)
        print(f"done: {args.workspace.resolve()}")
        return 0

    return run


def _setup_validate(p: argparse.ArgumentParser):
    p.add_argument("workspace", type=Path, help="demo workspace folder")

    def run(args: argparse.Namespace) -> int:
        from pipeline.workspace import validate_workspace

        loaded = validate_workspace(args.workspace)
        for folder, art in loaded.items():
            extra = ""
            if hasattr(art, "num_frames"):
                extra = f" ({art.num_frames} frames)"
            print(f"  ok  {folder}/{extra}")
        print(f"{args.workspace}: {len(loaded)} artifact(s) valid")
        return 0

    return run


_LATER = "arrives with a later issue"
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
        "object_track/",
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
        "run the ROS 2 nodes",
        "policy/, task/, calibration/",
        "deploy_log/",
        missing=f"the ROS 2 deployment nodes {_LATER}",
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
        "report/index.html",
        missing=f"the HTML report {_LATER}",
    ),
    Verb(
        "validate",
        "check every artifact in a workspace",
        "all artifacts",
        "nothing",
        setup=_setup_validate,
    ),
)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Callable]]:
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
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    runners: dict[str, Callable] = {}
    for v in VERBS:
        p = sub.add_parser(
            v.name, help=v.summary, description=f"{v.summary}. Reads {v.reads}; writes {v.writes}."
        )
        if v.setup is not None:
            runners[v.name] = v.setup(p)
        else:
            p.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            runners[v.name] = _missing(v)
    return parser, runners


def _missing(v: Verb) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        raise MissingCapabilityError(
            f"h2s2r {v.name}: not implemented yet — missing: {v.missing}. Nothing was read "
            "or written."
        )

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser, runners = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 2
    try:
        return runners[args.verb](args)
    except H2S2RError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
