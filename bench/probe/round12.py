"""Round 12 of the bad-input probe (held-out: none is a variant of an earlier case).

Written from README.md, docs/, DESIGN.md, configs/ and ``h2s2r VERB --help`` only. The
stages of rounds 1-11, tallied from their docstrings and ``@case`` lines (round 11's
count for rounds 1-10 plus its own 22): train ~49, import ~38, deploy ~33, eval ~29,
track-object 21, calibrate ~21, report ~15, track-hand ~15, run 13, retarget ~11,
validate ~10, export ~10, synth 8, workspace 8, demo 5, cli 4, capture 1. This round
goes to the least probed surfaces this machine reaches: the top-level command line
(a misspelt verb, a missing workspace, ``--version``), the shared ``--config`` file
itself (empty, a Windows BOM, tab indentation, a folder, a key of another verb, a key
without its unit suffix), ``synth``'s own options (``--fps 15`` carried through the
pipeline, the shipped ``configs/synth/can_lift.yaml``, ``--out`` a file),
``track-object``'s thresholds as a user misreads them (a percentage, a reversed
``--roi``), a Windows-edited ``cam_K.txt``, harmless re-runs (``report`` twice, two
``validate`` at once, a ``touch`` of the mesh), and ``deploy --sim``'s start noise.
Not chosen: ``train`` (the most probed), ``capture`` (no camera), ``demo``/``run``
(their stages are probed one by one, and they are slow on 2 cores).

The cases: ``h2s2r trian`` (a misspelt verb); ``h2s2r eval`` with no workspace;
``h2s2r --version``; ``eval --config`` an empty file, a UTF-8-BOM YAML, a YAML indented
with a tab, a folder, a YAML holding train's ``num_envs``; ``retarget --config`` with
``max_palm_residual: 0.05`` (no ``_m``); ``synth --fps 15`` then track, retarget and
validate; ``synth --config configs/synth/can_lift.yaml`` at a small size; ``synth --out``
an existing file; ``import`` of a ``cam_K.txt`` with CRLF line ends and one with a
``#`` comment line; ``track-object --roi`` with its corners swapped and
``--min-agreement 80`` (a percent); ``touch object/mesh.obj`` then ``eval``; ``report``
twice; two ``validate`` at once; ``deploy --sim --sim-start-noise-m 3``; ``eval
--presets ""``; ``eval`` of ``ws/../ws/``.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np

from .fixtures import Fixtures, src_copy
from .round2 import chain
from .round3 import failed_step
from .round9 import _ok, _refused, _says
from .run import (
    EVAL,
    REPO,
    Outcome,
    case,
    finish,
    h2s2r,
    leftovers,
    refused,
    start,
    succeeded,
)

R12 = 12


def _sha(p: Path) -> str:
    import hashlib

    return hashlib.sha256(p.read_bytes()).hexdigest()


def _eval_with_config(fx: Fixtures, name: str, text: str | bytes) -> tuple[Path, object]:
    ws = fx.ws(name, "trained")
    cfg = ws.parent / "eval.yaml"
    if isinstance(text, bytes):
        cfg.write_bytes(text)
    else:
        cfg.write_text(text)
    r = h2s2r("eval", ws, "--config", cfg, *EVAL)
    return ws, r


# ----------------------------------------------------------------------------- cli
@case("cli", "a misspelt verb: `h2s2r trian ws`", R12)
def cli_verb_typo(fx: Fixtures) -> Outcome:
    ws = fx.ws("cli_verb_typo", "tracked")
    r = h2s2r("trian", ws)
    fix = r"train|choose|invalid choice"
    return refused(r, r"trian", fix=fix, checks=[(not (ws / "train").exists(), "train/")])


@case("cli", "`h2s2r eval` with no workspace", R12)
def cli_missing_workspace(fx: Fixtures) -> Outcome:
    d = fx.ws("cli_missing_workspace")
    r = h2s2r("eval", cwd=d.parent)
    return refused(r, r"workspace|ws|required|argument")


@case("cli", "`h2s2r --version` prints a version", R12)
def cli_version(fx: Fixtures) -> Outcome:
    r = h2s2r("--version")
    return succeeded(r, checks=[(bool(re.search(r"\d+\.\d+", r.out + r.err)), "no version")])


# ----------------------------------------------------------------------------- config
@case("config", "eval --config an empty YAML file (0 bytes)", R12)
def config_empty_file(fx: Fixtures) -> Outcome:
    ws, r = _eval_with_config(fx, "config_empty_file", "")
    if _ok(r):
        return succeeded(r, checks=[((ws / "eval" / "metrics.json").is_file(), "no metrics")])
    return _refused(r, r"eval\.yaml|--config")


@case("config", "eval --config a YAML saved by Notepad with a UTF-8 BOM", R12)
def config_bom(fx: Fixtures) -> Outcome:
    ws, r = _eval_with_config(fx, "config_bom", "\ufeffseed: 4\n".encode())
    if _ok(r):
        return succeeded(r, checks=[((ws / "eval" / "metrics.json").is_file(), "no metrics")])
    return _refused(r, r"eval\.yaml|BOM|--config")


@case("config", "eval --config a YAML indented with a tab", R12)
def config_tab_indent(fx: Fixtures) -> Outcome:
    ws, r = _eval_with_config(fx, "config_tab_indent", "seed: 4\npresets:\n\t- large\n")
    return _refused(r, r"eval\.yaml|tab", checks=[(not (ws / "eval").exists(), "eval/ written")])


@case("config", "eval --config a folder (configs/)", R12)
def config_is_directory(fx: Fixtures) -> Outcome:
    ws = fx.ws("config_is_directory", "trained")
    r = h2s2r("eval", ws, "--config", REPO / "configs", *EVAL)
    return refused(r, r"configs|--config", checks=[(not (ws / "eval").exists(), "eval/ written")])


@case("config", "eval --config a YAML with train's num_envs: 8", R12)
def config_other_verb_key(fx: Fixtures) -> Outcome:
    _ws, r = _eval_with_config(fx, "config_other_verb_key", "num_envs: 8\n")
    if _ok(r):
        if _says(r, r"num_envs"):
            return Outcome("GOOD", "exit 0 with a word about num_envs (ignored)", [r])
        return Outcome("WEAK", "exit 0: train's num_envs in eval's --config silently ignored", [r])
    return _refused(r, r"num_envs")


@case("config", "retarget --config with max_palm_residual: 0.05 (the _m left off)", R12)
def config_key_without_unit(fx: Fixtures) -> Outcome:
    ws = fx.ws("config_key_without_unit", "tracked")
    before = _sha(ws / "task" / "task.npz") if (ws / "task" / "task.npz").is_file() else None
    cfg = ws.parent / "retarget.yaml"
    cfg.write_text("max_palm_residual: 0.05\n")
    r = h2s2r("retarget", ws, "--config", cfg)
    if _ok(r):
        return Outcome("WEAK", "exit 0: the misspelt key was silently ignored", [r])
    after = _sha(ws / "task" / "task.npz") if (ws / "task" / "task.npz").is_file() else None
    return _refused(
        r,
        r"max_palm_residual",
        fix=r"max_palm_residual_m|valid|one of|did you mean|unknown",
        checks=[(before == after, "task/ changed by a refused run")],
    )


# ----------------------------------------------------------------------------- synth
@case("synth", "synth --fps 15, then track-object, track-hand, retarget, validate", R12)
def synth_fps15_pipeline(fx: Fixtures) -> Outcome:
    ws = fx.ws("synth_fps15_pipeline")
    s = h2s2r("synth", "--out", ws, "--frames", "30", "--fps", "15")
    if not _ok(s):
        return succeeded(s)
    more = [h2s2r("track-object", ws, "--no-overlay")]
    more.append(h2s2r("track-hand", ws, "--method", "ground-truth"))
    more.append(h2s2r("retarget", ws))
    more.append(h2s2r("validate", ws))
    return chain(s, more)


@case("synth", "synth --config configs/synth/can_lift.yaml (shipped), small images", R12)
def synth_shipped_can_lift(fx: Fixtures) -> Outcome:
    ws = fx.ws("synth_shipped_can_lift")
    cfg = REPO / "configs" / "synth" / "can_lift.yaml"
    s = h2s2r(
        "synth", "--config", cfg, "--out", ws, "--frames", "30", "--width", "320", "--height", "240"
    )
    v = h2s2r("validate", ws)
    return chain(s, [v], checks=[((ws / "capture").is_dir(), "no capture/")])


@case("synth", "synth --out an existing file (notes.txt)", R12)
def synth_out_is_file(fx: Fixtures) -> Outcome:
    d = fx.ws("synth_out_is_file").parent
    f = d / "notes.txt"
    f.write_text("my notes\n")
    r = h2s2r("synth", "--out", f, "--frames", "30")
    kept = f.is_file() and f.read_text() == "my notes\n"
    return refused(r, r"notes\.txt|--out", checks=[(kept, "the user's file was replaced")])


# ----------------------------------------------------------------------------- import
def _import_with_camk(fx: Fixtures, name: str, edit) -> tuple[Path, object, np.ndarray]:
    d = fx.ws(name)
    src = src_copy(fx, d)
    K = np.loadtxt(fx.src / "cam_K.txt")
    (src / "cam_K.txt").write_bytes(edit((fx.src / "cam_K.txt").read_bytes()))
    r = h2s2r("import", "--from", src, d)
    return d, r, K


@case("import", "cam_K.txt edited on Windows (CRLF line ends)", R12)
def import_camk_crlf(fx: Fixtures) -> Outcome:
    ws, r, K = _import_with_camk(
        fx, "import_camk_crlf", lambda b: b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    )
    if not _ok(r):
        return succeeded(r)
    got = np.loadtxt(ws / "capture" / "cam_K.txt")
    return succeeded(r, checks=[(np.allclose(got, K), "capture/cam_K.txt has other numbers")])


@case("import", "cam_K.txt with a '# RealSense D435 colour' comment line first", R12)
def import_camk_comment(fx: Fixtures) -> Outcome:
    ws, r, K = _import_with_camk(
        fx, "import_camk_comment", lambda b: b"# RealSense D435 colour 640x480\n" + b
    )
    if _ok(r):
        got = np.loadtxt(ws / "capture" / "cam_K.txt")
        return succeeded(r, checks=[(np.allclose(got, K), "capture/cam_K.txt has other numbers")])
    return _refused(r, r"cam_K\.txt", checks=[(not (ws / "capture").exists(), "capture/")])


# ----------------------------------------------------------------------------- track-object
@case("track-object", "--roi with its corners swapped (u1,v1,u0,v0)", R12)
def track_object_roi_swapped(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_roi_swapped", "synth")
    r = h2s2r("track-object", ws, "--roi", "400,300,200,100", "--no-overlay")
    if _ok(r):
        v = h2s2r("validate", ws)
        if _says(r, r"--roi|swap|order"):
            return chain(r, [v])
        return Outcome("WEAK", "exit 0: the swapped --roi taken silently", [r, v])
    return refused(r, r"--roi", checks=[(not (ws / "object_track").exists(), "object_track/")])


@case("track-object", "--min-agreement 80 (a percent, not a fraction)", R12)
def track_object_min_agreement_percent(fx: Fixtures) -> Outcome:
    ws = fx.ws("track_object_min_agreement_percent", "synth")
    r = h2s2r("track-object", ws, "--min-agreement", "80", "--no-overlay")
    return refused(
        r, r"--min-agreement", checks=[(not (ws / "object_track").exists(), "object_track/")]
    )


# ----------------------------------------------------------------------------- no-op re-runs
@case("eval", "`touch object/mesh.obj` (same bytes, new time) after training; eval", R12)
def eval_after_touch_mesh(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_after_touch_mesh", "trained")
    m = ws / "object" / "mesh.obj"
    t = time.time() + 60
    os.utime(m, (t, t))
    e = h2s2r("eval", ws, *EVAL)
    return chain(e, [h2s2r("validate", ws)])


@case("report", "report twice in a row (a no-op re-run)", R12)
def report_twice(fx: Fixtures) -> Outcome:
    ws = fx.ws("report_twice", "trained")
    a = h2s2r("report", ws)
    b = h2s2r("report", ws)
    left = leftovers(ws)
    o = chain(b, [h2s2r("validate", ws)], checks=[(not left, f"left behind: {left}")])
    o.runs.append(a)
    if not _ok(a):
        return failed_step([a])
    return o


@case("validate", "two `validate` at once on one workspace", R12)
def validate_two_at_once(fx: Fixtures) -> Outcome:
    ws = fx.ws("validate_two_at_once", "trained")
    t0 = time.perf_counter()
    pa, pb = start(["validate", ws]), start(["validate", ws])
    a = finish(pa, ["validate", ws], t0)
    b = finish(pb, ["validate", ws], t0)
    if _ok(a) and _ok(b):
        return Outcome("GOOD", "both pass", [a, b])
    bad = b if _ok(a) else a
    if bad.traceback or bad.timed_out:
        return Outcome("BAD", "traceback or hang", [a, b])
    if _says(bad, r"another|running|lock|in progress|wait"):
        return Outcome("WEAK", "a read-only validate refused while another validate runs", [a, b])
    return Outcome("BAD", f"validate fails only when two run: {bad.first_line}", [a, b])


# ----------------------------------------------------------------------------- deploy / eval
@case("deploy", "deploy --sim --sim-start-noise-m 3 (3 m of start noise)", R12)
def deploy_sim_start_noise_huge(fx: Fixtures) -> Outcome:
    ws = fx.ws("deploy_sim_start_noise_huge", "trained")
    r = h2s2r("deploy", ws, "--sim", "--sim-start-noise-m", "3", "--duration", "2", timeout=180)
    if _ok(r):
        if _says(r, r"start.noise|--sim-start-noise-m"):
            return Outcome("GOOD", "exit 0 with a warning about the start noise", [r])
        why = "exit 0: a 3 m start noise (object off the table) taken silently"
        return Outcome("WEAK", why, [r])
    return refused(r, r"--sim-start-noise-m|start.noise")


@case("eval", "eval --presets '' (an empty list)", R12)
def eval_presets_empty(fx: Fixtures) -> Outcome:
    ws = fx.ws("eval_presets_empty", "trained")
    r = h2s2r("eval", ws, "--presets", "", *EVAL)
    if _ok(r):
        return succeeded(r, checks=[((ws / "eval" / "metrics.json").is_file(), "no metrics")])
    return refused(r, r"--presets")


@case("workspace", "eval of ws/../ws/ (a path with .. and a trailing slash)", R12)
def workspace_dotdot_path(fx: Fixtures) -> Outcome:
    ws = fx.ws("workspace_dotdot_path", "trained")
    odd = f"{ws}/../{ws.name}/"
    e = h2s2r("eval", odd, *EVAL)
    beside = sorted(p.name for p in ws.parent.iterdir())
    m = ws / "eval" / "metrics.json"
    ok = m.is_file() and json.loads(m.read_text()) is not None
    return chain(
        e,
        [h2s2r("validate", ws)],
        checks=[(ok, "eval/metrics.json not in the workspace"), (beside == ["ws"], f"{beside}")],
    )
