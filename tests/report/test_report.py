"""The report (``h2s2r report``) and the main job end to end: ``h2s2r demo`` from a
synthetic demo through training, eval, export, a ``deploy --sim`` and the report; its
re-run skips every stage; the page opens in headless Chromium without errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from h2s2r.cli.main import main
from h2s2r.report.figures import silhouette, strip_indices
from tests.conftest import REPO
from tests.report.chromium import Page, chromium

# A tiny run: 8 worlds for 3 s of training, 4 episodes per cell, one demo episode of
# deploy (--deploy-s 0: its resolved duration must not count as a changed option).
DEMO = ["--budget-min", "0.05", "--num-envs", "8", "--episodes", "4", "--deploy-s", "0"]
SHOTS = REPO / "runs" / "report_test"


def _demo(ws: Path, *extra: str, domain: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "h2s2r.cli.main", "demo", str(ws), *DEMO, *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    ws = tmp_path_factory.mktemp("demo") / "ws"
    r = _demo(ws, domain=150 + os.getpid() % 80)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return ws, r


def test_demo_runs_every_stage_through_deploy_and_report(demo_ws):
    ws, r = demo_ws
    for folder in ("capture", "object_track", "hand_track", "task", "train", "eval", "policy"):
        assert (ws / folder / "meta.json").is_file(), folder
    assert json.loads((ws / "deploy_log" / "metrics.json").read_text())["policy_steps"] > 0
    page = ws / "report" / "index.html"
    assert f"report: {page.resolve()}" in r.stdout
    for folder in ("capture", "object", "ground_truth", "object_track", "train", "eval"):
        timing = json.loads((ws / folder / "timing.json").read_text())
        assert timing["wall_time_s"] > 0, folder
        assert json.loads((ws / folder / "machine.json").read_text())["cpu_count"] >= 1
    metrics = json.loads((ws / "eval" / "metrics.json").read_text())
    for preset in ("none", "small", "medium", "large"):  # the report's table
        for method in ("policy", "replay", "object_aware_replay"):
            assert 0.0 <= metrics[f"{preset}/{method}_success_rate"] <= 1.0
    progress = (ws / "train" / "progress.jsonl").read_text().splitlines()
    row = json.loads(progress[-1])
    assert row["wall_time_s"] > 0 and "keypoint_tracking" in row["terms"]


def test_a_rerun_skips_unchanged_stages_and_redoes_changed_ones(demo_ws, tmp_path):
    ws, _ = demo_ws
    r = _demo(ws, domain=151 + os.getpid() % 79)
    assert r.returncode == 0, r.stderr[-3000:]
    skipped = re.findall(r"^(\w+)/ unchanged: skipped", r.stdout, re.M)
    assert skipped == [
        "capture",
        *("object_track", "hand_track", "task", "train", "eval", "policy", "deploy_log"),
    ]
    # Another episode count: eval again, and the rest (deploy reads policy/, not eval/) kept.
    before = (ws / "deploy_log" / "metrics.json").read_bytes()
    r = _demo(ws, "--episodes", "3", domain=152 + os.getpid() % 78)
    assert r.returncode == 0, r.stderr[-3000:]
    assert re.search(r"── eval/ \(made with other options: episodes 4 → 3", r.stdout)
    assert "deploy_log/ unchanged: skipped" in r.stdout
    assert (ws / "deploy_log" / "metrics.json").read_bytes() == before
    assert json.loads((ws / "eval" / "metrics.json").read_text())["episodes"] == 3


def test_the_report_renders_in_headless_chromium(demo_ws):
    ws, _ = demo_ws
    assert chromium() is not None, "chromium is not installed: run `make setup`"
    page = ws / "report" / "index.html"
    size = sum(p.stat().st_size for p in page.parent.iterdir())
    assert size < 20e6, f"report {size / 1e6:.1f} MB"
    with Page() as p:
        load_s = p.open(page.resolve().as_uri())
        rows = p.evaluate("document.querySelectorAll('#success tr').length")
        header = p.evaluate("document.querySelector('#success tr').innerText")
        video = p.evaluate(
            """new Promise(done => {
                const v = document.querySelector('video#rollout');
                if (!v) return done(null);
                const f = () => done({ready: v.readyState, duration: v.duration,
                                      error: v.error && v.error.code, width: v.videoWidth});
                if (v.readyState >= 1 || v.error) f();
                else { v.addEventListener('loadedmetadata', f); v.addEventListener('error', f); }
                setTimeout(f, 10000);
            })"""
        )
        images = p.evaluate(
            "[...document.images].map(i => [i.alt, i.complete && i.naturalWidth > 0])"
        )
        shot = p.screenshot(SHOTS / "report.png")
        errors = p.errors()
    assert not errors, errors
    assert rows == 1 + 4 + 1  # header, the four presets, the deploy loop
    assert "object-aware replay" in header and "open-loop replay" in header
    assert video is not None and video["error"] is None, video
    assert video["ready"] >= 1 and video["duration"] > 0.5 and video["width"] == 640, video
    assert images and all(ok for _, ok in images), images
    assert {"demo frames", "object trajectory", "learning curves", "deploy loop timing"} <= {
        alt for alt, _ in images
    }
    assert shot.stat().st_size > 50_000
    (SHOTS / "report_check.json").write_text(
        json.dumps({"load_s": round(load_s, 3), "size_mb": round(size / 1e6, 2)}) + "\n"
    )
    print(f"report: loaded in {load_s:.2f} s, {size / 1e6:.1f} MB; screenshot {shot}")


def test_missing_stages_show_not_run_with_the_command(synth_box, tmp_path, capsys):
    """A workspace with only the demo: every later stage is "not run" with its command;
    no error page."""
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(synth_box, ws, ignore=shutil.ignore_patterns("report", ".h2s2r.lock"))
    for f in ("object_track", "hand_track", "task", "train", "eval", "policy", "deploy_log"):
        shutil.rmtree(ws / f, ignore_errors=True)
    assert main(["report", str(ws)]) == 0
    html = (ws / "report" / "index.html").read_text()
    assert html.count("not run") >= 7
    for cmd in ("h2s2r track-object", "h2s2r retarget", "h2s2r train", "h2s2r eval"):
        assert f"<code>{cmd} {ws}" in html, cmd
    assert "h2s2r deploy" in html and "Traceback" not in html


def test_a_broken_artifact_is_reported_not_fatal(synth_box, tmp_path):
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(synth_box, ws, ignore=shutil.ignore_patterns("report", ".h2s2r.lock"))
    mesh = ws / "object" / "mesh.obj"
    mesh.write_text(mesh.read_text()[:200])  # cut: its hash no longer matches meta.json
    assert main(["report", str(ws)]) == 0
    html = (ws / "report" / "index.html").read_text()
    row = html[html.index("<b>object/</b>") : html.index("<b>object_track/</b>")]
    assert "problem</span>" in row and "mesh.obj" in row
    assert "demo frames" in html  # the rest of the page is still there


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p / "nope", "does not exist"),
        (lambda p: p, "holds no stage's output"),
    ],
)
def test_report_of_no_workspace_says_what_to_give(make, says, tmp_path, capsys):
    assert main(["report", str(make(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and "h2s2r" in err


def test_strip_frames_include_the_start_of_manipulation():
    assert strip_indices(120, 37) == sorted(strip_indices(120, 37))
    assert 37 in strip_indices(120, 37) and len(strip_indices(120, 37)) == 8
    assert strip_indices(3, None) == [0, 1, 2]


def test_silhouette_of_a_known_square():
    """A 10 cm square 1 m in front of a 500 px camera covers 50 × 50 px."""
    import numpy as np

    v = np.array([[-0.05, -0.05, 0], [0.05, -0.05, 0], [0.05, 0.05, 0], [-0.05, 0.05, 0]])
    f = np.array([[0, 1, 2], [0, 2, 3]])
    K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    T = np.eye(4)
    T[2, 3] = 1.0
    m = silhouette(v, f, T, K, (640, 480))
    assert abs(int(m.sum()) - 2500) < 150
    ys, xs = np.nonzero(m)
    assert abs(xs.mean() - 320) < 1 and abs(ys.mean() - 240) < 1


def test_run_with_another_robot_refuses_before_remaking_task(demo_ws, tmp_path, capsys):
    """Round-5 probe: `run --robot iiwa_leap` on a workspace trained for iiwa_allegro
    skipped every stage silently. Now it stops before any work, naming task/ and train/."""
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(demo_ws[0], ws, ignore=shutil.ignore_patterns(".h2s2r.lock"))
    before = (ws / "task" / "task.npz").read_bytes()
    argv = ["run", str(ws), "--robot", "iiwa_leap", "--hand-method", "ground-truth"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "robot 'iiwa_allegro' → 'iiwa_leap'" in err and f"{ws / 'train'}" in err
    assert (ws / "task" / "task.npz").read_bytes() == before


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_report_path_holding_the_users_files_is_refused(kind, synth_box, tmp_path, capsys):
    """Probe round 6: `report` replaced a file named report (the user's notes) silently."""
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(synth_box, ws, ignore=shutil.ignore_patterns("report", ".h2s2r.lock"))
    notes = ws / "report" if kind == "file" else ws / "report" / "notes.txt"
    notes.parent.mkdir(exist_ok=True)
    notes.write_text("my notes\n")
    assert main(["report", str(ws)]) == 1
    err = capsys.readouterr().err
    assert str(ws / "report") in err and ("move" in err) and "Traceback" not in err
    assert notes.read_text() == "my notes\n"
    if kind == "folder":  # its own output is replaced freely
        notes.unlink()
        assert main(["report", str(ws)]) == 0
        assert main(["report", str(ws)]) == 0
