"""Round 4 of the bad-input probe (held-out: none is a variant of an earlier case)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .fixtures import Fixtures
from .round1 import _interrupted
from .round2 import _metrics, chain, hamer_from_gt
from .round3 import failed_step, files_of
from .run import (
    ENV,
    EVAL,
    FIX,
    H2S2R,
    REPO,
    TIMEOUT_S,
    TRACEBACK,
    TRAIN,
    Outcome,
    Run,
    case,
    digest,
    finish,
    h2s2r,
    leftovers,
    refused,
    start,
    succeeded,
    wait_for,
)

# ============================================================================= round 4
# Held-out cases of the fourth round: none is a variant of a round-1, -2 or -3 case. New
# surfaces: the warp backend (--backend warp, --device; here Warp's CPU device, as no GPU
# is lent) and data-parallel training under torchrun (2 CPU processes over gloo).
R4 = 4
TORCHRUN = str(REPO / ".venv" / "bin" / "torchrun")
# Warp's CPU device is slow (and compiles its kernels for about a minute the first time):
# at most 8 worlds and 256 env-steps (TRAIN's sizes).
WARP_TRAIN = ["--backend", "warp", "--device", "cpu", *TRAIN]
WARP_TIMEOUT_S = 480
_BUILT: dict[str, Run | None] = {}  # lazily built fixtures: name → the failed run, or None
BEST_MODEL = "best_model.pt"


def warp_run(fx: Fixtures) -> Run | None:
    """The fixture ``warp`` (``tracked`` trained with ``--backend warp --device cpu``), built
    by the first case that needs it; ``None`` when it is there, else the failed run."""
    key = str(fx.root / "fixtures" / "warp")
    d = Path(key)
    if (d / "train" / "meta.json").is_file():
        return None
    if key in _BUILT:
        return _BUILT[key]
    shutil.rmtree(d, ignore_errors=True)
    Fixtures.copy_fixture(fx.tracked, d)
    r = h2s2r("train", d, *WARP_TRAIN, timeout=WARP_TIMEOUT_S)
    print(f"  fixture: train --backend warp --device cpu … {r.wall_s:.1f} s", flush=True)
    _BUILT[key] = None if r.rc == 0 and not r.traceback else r
    return _BUILT[key]


_GLOG = re.compile(r"[WIEF]\d{4} \d\d:\d\d:\d\d")  # torch.distributed's log lines
_EXC_LINE = re.compile(r"[A-Za-z_][\w.]*(Error|Exception)\b")


def split_launcher(err: str) -> tuple[str, str]:
    """``(what the h2s2r processes wrote, torchrun's own log and report)``. When a process
    fails, torchrun prints a traceback of itself (``ChildFailedError`` and a report), and
    on Ctrl-C one ending in ``SignalException``: neither is a traceback of h2s2r's."""
    mine, own = [], []
    lines = err.splitlines(keepends=True)
    k = 0
    while k < len(lines):
        ln = lines[k]
        nxt = lines[k + 1] if k + 1 < len(lines) else ""
        if ln.startswith(TRACEBACK) and re.search(r"bin/torchrun\b|torch/distributed/", nxt):
            while k < len(lines):  # torchrun's traceback, to its exception line
                own.append(lines[k])
                k += 1
                if _EXC_LINE.match(lines[k - 1]):
                    break
            if k < len(lines) and lines[k].startswith("===="):  # and its ==== report
                own.append(lines[k])
                k += 1
                while k < len(lines):
                    own.append(lines[k])
                    k += 1
                    if lines[k - 1].startswith("===="):
                        break
            continue
        if _GLOG.match(ln) or ln.startswith("*****") or "OMP_NUM_THREADS environment" in ln:
            own.append(ln)
        else:
            mine.append(ln)
        k += 1
    return "".join(mine), "".join(own)


def torchrun_start(nproc: int, args: list, env: dict | None = None) -> subprocess.Popen:
    """``torchrun --standalone --nproc-per-node nproc h2s2r args`` in the background, in its
    own process group (as a terminal's foreground job)."""
    cmd = [TORCHRUN, "--standalone", "--nproc-per-node", str(nproc), H2S2R, *map(str, args)]
    return subprocess.Popen(
        cmd,
        env=ENV if env is None else env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def torchrun_finish(
    p: subprocess.Popen, nproc: int, args: list, t0: float, timeout: float = TIMEOUT_S
) -> Run:
    r = finish(p, args, t0, timeout)
    mine, own = split_launcher(r.err)
    launcher = f"torchrun --standalone --nproc-per-node {nproc} h2s2r"
    return Run([launcher, *map(str, args)], r.rc, r.out, mine, r.wall_s, note=own)


def torchrun(nproc: int, *args, timeout: float = TIMEOUT_S, env: dict | None = None) -> Run:
    t0 = time.perf_counter()
    return torchrun_finish(torchrun_start(nproc, list(args), env), nproc, list(args), t0, timeout)


def reap(marker: str, grace_s: float = 2.0) -> list[str]:
    """Kill what this probe started that still runs: processes whose command line names
    ``marker`` (a case's own folder); torchrun's workers may sit in sessions of their own.
    Returns their command lines (processes left behind)."""
    time.sleep(grace_s)
    left = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in cmd and state != "Z":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(d.name), signal.SIGKILL)
            left.append(cmd.strip()[:120])
    return left


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _state_steps(ws: Path) -> int | None:
    p = ws / "train" / "state.json"
    return int(json.loads(p.read_text())["env_steps"]) if p.is_file() else None


def _train_backend(ws: Path) -> str | None:
    p = ws / "train" / "config.json"
    return json.loads(p.read_text())["train"].get("backend") if p.is_file() else None


def _sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


# --- track-hand -----------------------------------------------------------------------
@case(
    "track-hand", "hamer_depth JSON converted to millimetres by a user's script; then retarget", R4
)
def track_hand_hamer_millimetres(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_hand_hamer_millimetres", "tracked")
    hamer = hamer_from_gt(fx.synth, ws.parent / "hamer_mm", range(30))
    for f in sorted(hamer.glob("*.json")):
        d = json.loads(f.read_text())
        f.write_text(json.dumps({k: [1000.0 * x for x in v] for k, v in d.items()}))
    before = digest(ws / "hand_track")
    r = h2s2r("track-hand", ws, "--method", "hamer", "--hamer-output", hamer)
    if r.rc != 0 or r.traceback:
        return refused(
            r,
            r"hamer_mm|\d{5}\.json",
            fix=FIX + r"|millimet|metres",
            checks=[(digest(ws / "hand_track") == before, "the earlier hand_track/ was replaced")],
        )
    bone = _metrics(ws / "hand_track").get("wrist_to_middle_mcp_m", float("nan"))
    rt = h2s2r("retarget", ws)
    runs = [r, rt]
    if rt.traceback:
        return Outcome("BAD", f"track-hand accepts a {bone:.1f} m hand; retarget: traceback", runs)
    if rt.rc == 0:
        return Outcome(
            "BAD",
            f"exit 0: hand_track/ holds a {bone:.1f} m hand (millimetres read as metres) and "
            "retarget made task/ from it",
            runs,
        )
    if re.search(r"hand_track|\bhand\b|millimet|scale", rt.message, re.I):
        return Outcome(
            "WEAK",
            f"track-hand accepts a {bone:.1f} m hand silently; retarget then refuses: "
            f"{rt.first_line}",
            runs,
        )
    return Outcome(
        "BAD",
        f"track-hand accepts a {bone:.1f} m hand; retarget then fails without naming it: "
        f"{rt.first_line}",
        runs,
    )


# --- train: the warp backend ------------------------------------------------------------
@case("train", "--backend warp --device cuda:0 on a machine without a GPU", R4)
def train_warp_cuda_without_gpu(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_warp_cuda_without_gpu", "tracked")
    r = h2s2r("train", ws, "--backend", "warp", "--device", "cuda:0", *TRAIN, timeout=300)
    if r.rc == 0 and not r.traceback:
        said = re.search(r"\bcpu\b|no (cuda|gpu)", r.out + r.err, re.I)
        return Outcome(
            "WEAK",
            "exit 0: trained elsewhere than the cuda:0 asked for"
            + (", and said so" if said else ", silently"),
            [r],
        )
    return refused(r, r"--device|cuda:0", checks=[(not (ws / "train").exists(), "train/ created")])


@case("train", "--device cuda with the default backend (meant: the PPO learner on the GPU)", R4)
def train_device_without_warp(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_device_without_warp", "tracked")
    r = h2s2r("train", ws, *TRAIN, "--device", "cuda")
    return refused(
        r,
        r"--device",
        fix=r"--backend warp|(drop|omit|without|remove) (the )?--device",
        checks=[(not (ws / "train").exists(), "train/ created")],
    )


@case("train", "--backend warp --device cuda:0,1 (meant: train on both GPUs)", R4)
def train_device_two_gpus(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_device_two_gpus", "tracked")
    r = h2s2r("train", ws, "--backend", "warp", "--device", "cuda:0,1", *TRAIN)
    # The way to use two GPUs is torchrun: the message must point there.
    return refused(
        r,
        r"--device|cuda:0,1",
        fix=r"torchrun|--nproc",
        checks=[(not (ws / "train").exists(), "train/ created")],
    )


@case("train", "--backend warp, no --device, on a machine without a GPU (CPU fallback)", R4)
def train_warp_default_device_no_gpu(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_warp_default_device_no_gpu", "tracked")
    r = h2s2r("train", ws, "--backend", "warp", *TRAIN, timeout=WARP_TIMEOUT_S)
    if r.rc != 0 or r.traceback:  # refusing, with the way to run on the CPU, is fine too
        return refused(
            r, r"--device|GPU|CUDA", checks=[(not (ws / "train").exists(), "train/ created")]
        )
    v = h2s2r("validate", ws)
    backend = _train_backend(ws)
    o = chain(r, [v], [(backend == "warp", f"train/config.json backend is {backend!r}")])
    # Warp's CPU device: about 80 env-steps/s on 2 cores, the mujoco backend 5–7k. A user
    # who asked for warp expects a GPU: running on the CPU must at least be said.
    if o.verdict == "GOOD" and not re.search(r"\bcpu\b|no (cuda|gpu)", r.out + r.err, re.I):
        return Outcome(
            "WEAK",
            "exit 0 on Warp's CPU device, silently (no GPU; ~80 env-steps/s against the "
            "mujoco backend's 5–7k here)",
            o.runs,
        )
    return o


@case("train", "--mini-batches 256 with 8 worlds × 16 steps (128 samples per iteration)", R4)
def train_mini_batches_over_samples(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_mini_batches_over_samples", "tracked")
    r = h2s2r("train", ws, *TRAIN, "--mini-batches", "256")
    retry = h2s2r("train", ws, *TRAIN, "--mini-batches", "4")  # the fix, as a new run
    if r.rc == 0 and not r.traceback:
        said = re.search(r"mini.batch", r.out + r.err, re.I)
        if said:
            return Outcome("WEAK", "accepted, with a note on the mini-batches", [r, retry])
        return Outcome(
            "BAD", "exit 0: 256 mini-batches of 128 samples (0 samples each), silently", [r, retry]
        )
    o = refused(
        r,
        r"--mini-batches|mini_batches",
        checks=[(retry.rc == 0, f"the retry with --mini-batches 4 fails: {retry.first_line}")],
    )
    o.runs.append(retry)
    return o


@case("train", "PYTHONPATH holds the user's own warp.py (image warping); --backend warp", R4)
def train_warp_shadowed_by_user_module(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_warp_shadowed_by_user_module", "tracked")
    code = ws.parent / "mycode"
    code.mkdir()
    (code / "warp.py").write_text(
        '"""My image-warping helpers."""\n\nimport numpy as np\n\n\n'
        "def warp_affine(img: np.ndarray, A: np.ndarray) -> np.ndarray:\n    return img\n"
    )
    env = {**ENV, "PYTHONPATH": str(code)}
    r = h2s2r("train", ws, *WARP_TRAIN, env=env, timeout=300)
    return refused(
        r,
        r"mycode/warp\.py",
        fix=r"PYTHONPATH|renam|shadow|sys\.path",
        checks=[(not (ws / "train").exists(), "train/ created")],
    )


@case("train", "--resume of a --backend warp run without --backend (the mujoco default)", R4)
def train_resume_warp_run_on_mujoco(fx: Fixtures) -> Outcome:
    bad = warp_run(fx)
    if bad is not None:
        return failed_step([bad])
    ws = fx.ws("train_resume_warp_run_on_mujoco", "warp")
    before = files_of(ws / "train", "*.pt")
    r = h2s2r("train", ws, *TRAIN[:2], "--total-steps", "384", *TRAIN[4:], "--resume")
    backend, steps = _train_backend(ws), _state_steps(ws)
    ev = h2s2r("eval", ws, *EVAL, timeout=WARP_TIMEOUT_S)
    if r.rc != 0 or r.traceback:
        after = files_of(ws / "train", "*.pt")
        o = refused(
            r,
            r"--backend|warp",
            checks=[
                (before.items() <= after.items(), "checkpoints removed or changed"),
                (ev.rc == 0, f"eval of the run then fails: {ev.first_line}"),
            ],
        )
        o.runs.append(ev)
        return o
    o = chain(r, [ev], [(steps == 384, f"train/state.json env_steps {steps}, not 384")])
    if o.verdict != "GOOD":
        return o
    if backend == "warp":
        o.why = "resumed on the run's backend (warp)"
        return o
    if re.search(r"\bbackend\b|\bwarp\b", r.out + r.err, re.I):
        o.why = "continued on mujoco and said so"
        return o
    return Outcome(
        "WEAK",
        f"exit 0: the warp run silently continued on the {backend} backend "
        "(train/config.json now says so; on a GPU server: ~100× slower)",
        o.runs,
    )


# --- train: torchrun --------------------------------------------------------------------
@case("train", "WORLD_SIZE=2 RANK=0 MASTER_ADDR… left in the shell; plain `h2s2r train`", R4)
def train_world_size_left_in_env(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_world_size_left_in_env", "tracked")
    env = {**ENV, "WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}
    env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    r = h2s2r("train", ws, *TRAIN, env=env, timeout=90)
    reap(str(ws))
    if r.timed_out:
        said = re.search(r"waiting|WORLD_SIZE", r.out + r.err, re.I)
        return Outcome(
            "WEAK" if said else "BAD",
            f"waits for a second process that never comes (killed after {r.wall_s:.0f} s)"
            + (", saying so" if said else ": a hang"),
            [r],
        )
    if r.rc == 0 and not r.traceback:
        steps = _state_steps(ws)
        v = h2s2r("validate", ws)
        return chain(r, [v], [(steps == 256, f"train/state.json env_steps {steps}, not 256")])
    return refused(r, r"WORLD_SIZE|MASTER_ADDR|\bRANK\b|torchrun")


@case("train", "the same `torchrun … h2s2r train WS` started twice (a resubmitted job)", R4)
def train_two_torchrun_jobs(fx: Fixtures) -> Outcome:
    ws = fx.ws("dp_two_jobs", "tracked")  # the folder's name does not say "torchrun"
    args = ["train", ws, *TRAIN[:2], "--total-steps", "2048", *TRAIN[4:]]
    t0 = time.perf_counter()
    pa = torchrun_start(2, args)
    hit = wait_for(lambda: (ws / "train").is_dir(), pa, 180)
    b = torchrun(2, *args, timeout=240)
    a = torchrun_finish(pa, 2, args, t0, timeout=420)
    left = reap(str(ws))
    if not hit:
        return Outcome("BAD", f"the first job did not start: {a.first_line or a.rc}", [a, b])
    v = h2s2r("validate", ws)
    steps = _state_steps(ws)
    runs = [b, a, v]
    if a.traceback or b.traceback:
        return Outcome("BAD", "traceback from an h2s2r process", runs)
    if b.rc == 0:
        return Outcome("BAD", "both jobs exit 0 on one workspace", runs)
    o = refused(
        b,
        r"another h2s2r|already|in use|running",
        checks=[
            (a.rc == 0, f"the first job fails: {a.first_line or a.rc}"),
            (v.rc == 0, f"validate afterwards: {v.first_line}"),
            (steps == 2048, f"train/state.json env_steps {steps}, not 2048"),
            (not left, f"processes left running: {left}"),
        ],
    )
    o.runs += [a, v]
    return o


@case("train", "Ctrl-C of a `torchrun --nproc-per-node 2 h2s2r train`; eval; --resume", R4)
def train_torchrun_ctrl_c(fx: Fixtures) -> Outcome:
    ws = fx.ws("dp_ctrl_c", "tracked")
    args = ["train", ws, *TRAIN[:2], "--total-steps", "100000", *TRAIN[4:], "--save-every", "1"]
    t0 = time.perf_counter()
    p = torchrun_start(2, args)
    hit = wait_for(lambda: (ws / "train" / "model_2.pt").exists(), p, 240)
    os.killpg(p.pid, signal.SIGINT)  # Ctrl-C in the terminal: its foreground group
    r = torchrun_finish(p, 2, args, t0, timeout=120)
    left = reap(str(ws))
    if not hit:
        return Outcome("BAD", f"no checkpoint within 240 s: {r.first_line or r.rc}", [r])
    ev = h2s2r("eval", ws, *EVAL)
    ev_ok = ev.rc == 0 or (not ev.traceback and "--resume" in ev.err)
    total = (_state_steps(ws) or 768) + 256
    res = h2s2r("train", ws, *TRAIN[:2], "--total-steps", total, *TRAIN[4:], "--resume")
    ev2 = h2s2r("eval", ws, *EVAL)
    checks = [
        (not r.timed_out, "torchrun still ran 120 s after Ctrl-C"),
        (not left, f"processes left running after torchrun exited: {left}"),
        (bool(ev_ok), f"eval after Ctrl-C: {ev.first_line or ev.rc}"),
        (res.rc == 0, f"--resume fails: {res.first_line}"),
        (ev2.rc == 0, f"eval after --resume fails: {ev2.first_line}"),
    ]
    return _interrupted(r, checks, [ev, res, ev2])


@case("train", "a finished 1-process run continued under torchrun (2 processes, --resume)", R4)
def train_resume_under_torchrun(fx: Fixtures) -> Outcome:
    ws = fx.ws("dp_scale_out", "trained")  # 256 env-steps done
    r = torchrun(
        2, "train", ws, *TRAIN[:2], "--total-steps", "768", *TRAIN[4:], "--resume", timeout=300
    )
    reap(str(ws))
    steps = _state_steps(ws)
    run_json = ws / "train" / "run.json"
    run_steps = json.loads(run_json.read_text())["env_steps"] if run_json.is_file() else None
    ev = h2s2r("eval", ws, *EVAL)
    ex = h2s2r("export", ws)  # the fixture's policy/ is of the run before: stale until then
    v = h2s2r("validate", ws)
    return chain(
        r,
        [ev, ex, v],
        [
            ("2 processes" in r.out, "it does not say it trains on 2 processes"),
            (steps == 768, f"train/state.json env_steps {steps}, not 768"),
            (run_steps == 768, f"train/run.json env_steps {run_steps}, not 768"),
        ],
    )


# --- train: task_config, --resume -----------------------------------------------------
@case("train", "task_config physics_dt_s: 0.002 (MuJoCo's default step; 15 Hz policy)", R4)
def train_task_config_mujoco_timestep(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_task_config_mujoco_timestep", "tracked")
    cfg = ws.parent / "fine_physics.yaml"
    cfg.write_text("task_config:\n  physics_dt_s: 0.002  # MuJoCo's default timestep\n")
    r = h2s2r("train", ws, "--config", cfg, *TRAIN)
    if r.rc == 0 and not r.traceback:  # 1/15 s is 33.3 steps of 2 ms: not a whole number
        path = ws / "train" / "config.json"
        task = json.loads(path.read_text()).get("task", {}) if path.is_file() else {}
        ratio = task.get("ctrl_dt_s", 0) / task.get("physics_dt_s", 1)
        if abs(ratio - round(ratio)) > 1e-6:
            return Outcome(
                "BAD", f"exit 0: ctrl_dt_s / physics_dt_s = {ratio:.2f} substeps recorded", [r]
            )
        said = re.search(r"ctrl_dt_s|physics_dt_s", r.out + r.err)
        return Outcome(
            "GOOD" if said else "WEAK",
            f"accepted with the policy period adjusted to {ratio:.0f} substeps"
            + ("" if said else ", silently"),
            [r],
        )
    return refused(
        r,
        r"physics_dt_s|ctrl_dt_s",
        checks=[(not (ws / "train").exists(), "train/ created")],
    )


@case("train", "retarget --robot iiwa_leap after training; eval; train; train --resume", R4)
def train_resume_after_retarget_other_robot(fx: Fixtures) -> Outcome:
    ws = fx.ws("train_resume_after_retarget_other_robot", "trained")  # iiwa_allegro
    best = ws / "train" / BEST_MODEL
    best_before, pts_before = _sha(best), files_of(ws / "train", "*.pt")
    rt = h2s2r("retarget", ws, "--robot", "iiwa_leap")
    bad = failed_step([rt])
    if bad is not None:
        return bad
    ev = h2s2r("eval", ws, *EVAL)  # refused: train/ was made from another task/
    tr = h2s2r("train", ws, *TRAIN)  # refused: train/ holds a run — "pass --resume"
    r = h2s2r("train", ws, *TRAIN[:2], "--total-steps", "384", *TRAIN[4:], "--resume")
    more = [ev, tr, rt]
    if r.rc != 0 or r.traceback:
        after = files_of(ws / "train", "*.pt")
        o = refused(
            r,
            r"task|iiwa_leap|robot|train/",
            checks=[(pts_before.items() <= after.items(), "checkpoints removed or changed")],
        )
        o.runs += more
        return o
    said = re.search(r"iiwa_leap|iiwa_allegro|robot|another task|task/", r.out + r.err, re.I)
    ev2 = h2s2r("eval", ws, *EVAL)
    runs = [r, ev2, *more]
    if said:
        return Outcome(
            "WEAK", "exit 0: continued the iiwa_allegro run on iiwa_leap, saying so", runs
        )
    if _sha(best) == best_before and best_before is not None:
        return Outcome(
            "BAD",
            "exit 0: silently continued the iiwa_allegro run on iiwa_leap's task; best_model.pt "
            "(chosen by validation on iiwa_allegro) is still the checkpoint eval and export use",
            runs,
        )
    return Outcome(
        "WEAK",
        "exit 0: silently continued the iiwa_allegro policy on iiwa_leap's task (validation "
        "history of both robots in one run)",
        runs,
    )


# --- run ------------------------------------------------------------------------------
@case("run", "the ssh session drops (SIGHUP) while `run` trains; `run` again", R4)
def run_sighup_retry(fx: Fixtures) -> Outcome:
    ws = fx.ws("run_sighup_retry", "tracked")  # object_track/ hand_track/ task/: run trains
    opts = ["--budget-min", "0.3", "--num-envs", "8", "--episodes", "2"]
    args = ["run", ws, *opts, "--hand-method", "ground-truth"]
    t0 = time.perf_counter()
    p = start(args)
    hit = wait_for(lambda: (ws / "train" / "model_0.pt").exists(), p, 200)
    time.sleep(1.0)
    os.killpg(p.pid, signal.SIGHUP)  # the terminal hangs up: its jobs get SIGHUP
    r = finish(p, args, t0, timeout=60)
    if not hit:
        return Outcome("BAD", f"no checkpoint within 200 s: {r.first_line or r.rc}", [r])
    retry = h2s2r(*args, timeout=300)
    if retry.rc == 0 and not retry.traceback:
        v = h2s2r("validate", ws)
        checks = [
            ((ws / "policy").is_dir(), "no policy/"),
            (v.rc == 0, f"validate: {v.first_line}"),
        ]
        return _interrupted(r, checks, [retry, v])
    told = not retry.traceback and re.search(r"--resume", retry.message)
    if not told:
        return _interrupted(r, [(False, f"the retry of run fails: {retry.first_line}")], [retry])
    # As it says: continue the training, then run again.
    res = h2s2r("train", ws, "--resume", "--num-envs", "8", "--budget-min", "0.3")
    again = h2s2r(*args, timeout=300)
    if res.rc == 0 and again.rc == 0 and not r.traceback:
        return Outcome(
            "WEAK",
            "the retry of `run` stops at the unfinished train/ and sends the user to "
            "`train --resume`; doing that, then `run`, works",
            [retry, r, res, again],
        )
    return _interrupted(
        r,
        [
            (res.rc == 0, f"train --resume as advised fails: {res.first_line}"),
            (again.rc == 0, f"run after it fails: {again.first_line}"),
        ],
        [retry, res, again],
    )


# --- eval -----------------------------------------------------------------------------
@case("eval", "train/ copied as meta.json lists it (no config.json), a joint_delta run", R4)
def eval_train_without_config_json(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_train_without_config_json", "tracked")
    tr = h2s2r("train", ws, *TRAIN, "--action-mode", "joint_delta")
    ref = h2s2r("eval", ws, *EVAL)
    bad = failed_step([tr, ref])
    if bad is not None:
        return bad
    m_ref = _metrics(ws / "eval")
    laptop = fx.ws("eval_train_without_config_json", name="laptop")
    for sub in ("task", "object"):
        Fixtures.copy_fixture(ws / sub, laptop / sub)
    (laptop / "train").mkdir()
    listed = json.loads((ws / "train" / "meta.json").read_text())["files"]
    for name in ["meta.json", *listed]:
        shutil.copy2(ws / "train" / name, laptop / "train" / name)
    r = h2s2r("eval", laptop, *EVAL)
    if r.rc == 0 and not r.traceback:
        m = _metrics(laptop / "eval")
        same = m.get("success_rate") == m_ref.get("success_rate") and (
            abs(m.get("tracking_err_mean_m", 1e9) - m_ref["tracking_err_mean_m"]) < 1e-6
        )
        o = succeeded(
            r,
            checks=[
                (
                    same,
                    f"evaluated another task: tracking error {m.get('tracking_err_mean_m')} "
                    f"vs {m_ref['tracking_err_mean_m']} in the workspace it was trained in",
                )
            ],
        )
        o.runs += [tr, ref]
        return o
    o = refused(r, r"config\.json")
    o.runs += [tr, ref]
    return o


@case("eval", "`torchrun --nproc-per-node 2 h2s2r eval WS` (meant: a faster eval)", R4)
def eval_under_torchrun(fx: Fixtures) -> Outcome:
    ws = fx.ws("dp_eval", "trained")  # the folder's name does not say "torchrun"
    r = torchrun(2, "eval", ws, *EVAL, timeout=300)
    orphans = reap(str(ws))
    if r.rc == 0 and not r.traceback:
        v = h2s2r("validate", ws)
        checks = [((ws / "eval" / "meta.json").is_file(), "no eval/")]
        checks += [(not orphans, f"processes left running: {orphans}")]
        return chain(r, [v], checks)
    retry = h2s2r("eval", ws, *EVAL)  # then without torchrun
    v = h2s2r("validate", ws)
    o = refused(
        r,
        r"torchrun|WORLD_SIZE|\bRANK\b|distributed|data.parallel",
        checks=[
            (not orphans, f"processes left running: {orphans}"),
            (retry.rc == 0, f"eval without torchrun then fails: {retry.first_line}"),
            (not leftovers(ws), f"left after that eval: {leftovers(ws)}"),
            (v.rc == 0, f"validate afterwards: {v.first_line}"),
        ],
    )
    o.runs += [retry, v]
    return o


@case("eval", "a --backend warp --device cpu run: eval, export, eval --policy onnx, deploy", R4)
def eval_export_deploy_warp_run(fx: Fixtures) -> Outcome:
    bad = warp_run(fx)
    if bad is not None:
        return failed_step([bad])
    ws = fx.ws("eval_export_deploy_warp_run", "warp")
    ev = h2s2r("eval", ws, *EVAL, timeout=WARP_TIMEOUT_S)
    more = [h2s2r("export", ws, timeout=WARP_TIMEOUT_S)]
    more.append(h2s2r("eval", ws, *EVAL, "--policy", "onnx", timeout=WARP_TIMEOUT_S))
    more.append(h2s2r("deploy", ws, "--sim", "--duration", "2", timeout=180))
    more.append(h2s2r("validate", ws))
    header = ws / "policy" / "policy.json"
    tc = json.loads(header.read_text()).get("training_config", {}) if header.is_file() else {}
    return chain(
        ev,
        more,
        [
            (
                tc.get("backend") == "warp",
                f"policy.json training_config backend {tc.get('backend')!r}",
            ),
            (bool(_metrics(ws / "deploy_log")), "no deploy_log/metrics.json"),
        ],
    )


@case("eval", "eval '~/runs/mug' (the ~ quoted: the shell does not expand it)", R4)
def eval_tilde_quoted(fx: Fixtures) -> Outcome:
    d = fx.ws("eval_tilde_quoted").parent  # the user's project folder: the working directory
    d.mkdir(parents=True, exist_ok=True)
    home_runs = Path.home() / "runs"
    had_home_runs = home_runs.exists()
    r = h2s2r("eval", "~/runs/mug", *EVAL, cwd=d)
    stray = [str(p) for p in (d / "~",) if p.exists()]
    if not had_home_runs and home_runs.exists():  # made by the command: empty folders
        stray.append(str(home_runs))
        for p in sorted(home_runs.rglob("*"), reverse=True):
            with contextlib.suppress(OSError):
                p.rmdir()
        with contextlib.suppress(OSError):
            home_runs.rmdir()
    if r.rc == 0 and not r.traceback:
        return Outcome("BAD", "exit 0 on a workspace that does not exist", [r])
    o = refused(r, r"~/runs/mug|runs/mug")
    if stray and o.verdict == "GOOD":
        return Outcome(
            "WEAK",
            f"refused, but left {stray} behind (a folder named '~' in the working directory: "
            "`rm -rf ~` removes the home folder)",
            o.runs,
        )
    if stray:
        o.why += f"; left {stray} behind"
    return o


# --- workspace ------------------------------------------------------------------------
@case("workspace", "`cd runs/mug` and then eval ., export ., deploy . --sim, validate .", R4)
def workspace_dot_from_inside(fx: Fixtures) -> Outcome:
    ws = fx.ws("workspace_dot_from_inside", "trained")
    ev = h2s2r("eval", ".", *EVAL, cwd=ws)
    more = [h2s2r("export", ".", cwd=ws)]
    more.append(h2s2r("deploy", ".", "--sim", "--duration", "2", cwd=ws, timeout=180))
    more.append(h2s2r("validate", ".", cwd=ws))
    beside = sorted(p.name for p in ws.parent.iterdir())
    return chain(
        ev,
        more,
        [
            ((ws / "eval" / "meta.json").is_file(), "no eval/ in the workspace"),
            (bool(_metrics(ws / "deploy_log")), "no deploy_log/metrics.json"),
            (beside == ["ws"], f"written beside the workspace: {beside}"),
            (not leftovers(ws), f"left behind: {leftovers(ws)}"),
        ],
    )
