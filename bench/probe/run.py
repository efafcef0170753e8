"""Running ``h2s2r`` as a user would (:func:`h2s2r`, :func:`start`, :func:`finish`),
the GOOD/WEAK/BAD verdicts (:func:`refused`, :func:`succeeded`) and the case registry
(:data:`CASES`, :func:`case`). The rules are in ``bench/bad_inputs.py``'s docstring."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .fixtures import Fixtures


REPO = Path(__file__).resolve().parents[2]
H2S2R = str(REPO / ".venv" / "bin" / "h2s2r")
ENV = dict(os.environ)
ENV.setdefault("MENAGERIE_ROOT", str(REPO.parent / "shared" / "data" / "mujoco_menagerie"))
ENV.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
ENV.setdefault("MUJOCO_GL", "egl")
ENV.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ENV.setdefault("ROS_DOMAIN_ID", "67")
ENV["COLUMNS"] = "200"  # argparse and rich wrap less

TIMEOUT_S = 240
ROUNDS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)  # see Case.round
DEFAULT_OUT = REPO / "bench" / "results" / "bad_inputs.json"
# Small runs only (a shared 2-core machine).
TRAIN = ["--num-envs", "8", "--total-steps", "256", "--validate-every", "1"]
TRAIN += ["--validate-episodes", "4", "--threads", "1"]
EVAL = ["--episodes", "2", "--no-video"]
# "Says what to do": a fix, or the valid values / the expected form.
FIX = (
    r"\b(run|re-?run|re-?import|re-?export|re-?copy|pass|give|use|delete|drop|check|fix|"
    r"record|wait|lower|choose|point|correct|restore|continue|omit|remove|must|expected|"
    r"need\w*|valid|one of|at least|at most|greater than|instead|invalid (int|float|choice)|"
    r"try|plug|stop|see)\b"
)
TRACEBACK = "Traceback (most recent call last)"


# ----------------------------------------------------------------------------- running
@dataclass
class Run:
    argv: list[str]
    rc: int | None  # None: timed out (killed)
    out: str
    err: str
    wall_s: float
    # What a launcher wrote of its own (torchrun's log and its report of a failed process,
    # a traceback of torchrun itself): kept apart from what h2s2r said (``err``).
    note: str = ""

    @property
    def timed_out(self) -> bool:
        return self.rc is None

    @property
    def traceback(self) -> bool:
        return TRACEBACK in self.err or TRACEBACK in self.out

    @property
    def message(self) -> str:
        """What the user is told on failure: stderr, else stdout."""
        return self.err if self.err.strip() else self.out

    @property
    def first_line(self) -> str:
        lines = [ln.strip() for ln in self.err.splitlines() if ln.strip()]
        for ln in lines:
            if re.match(r"(error:|h2s2r[\w -]*: error:|usage error)", ln):
                return ln
        if self.traceback:  # the exception's own line: "module.Error: message"
            exc = [ln for ln in lines if re.match(r"[A-Za-z_][\w.]*(Error|Exception)\b.*", ln)]
            return exc[-1] if exc else lines[-1]
        return lines[0] if lines else ""

    def shown(self) -> str:
        cmd = " ".join(_quote(a) for a in self.argv)
        return f"$ {cmd}\n[exit {self.rc}]\n{_tail(self.err, 1500)}"


def _quote(a: str) -> str:
    return a if re.fullmatch(r"[\w./:=,+@-]+", a) else repr(a)


def _tail(s: str, n: int) -> str:
    s = s.strip()
    return s if len(s) <= n else "…" + s[-n:]


def _kill_group(p: subprocess.Popen, sig=signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(p.pid, sig)


def start(
    args: list[str],
    cwd: Path | None = None,
    env: dict | None = None,
    preexec: Callable[[], None] | None = None,
) -> subprocess.Popen:
    """``h2s2r args`` in the background, in its own process group (``env``: instead of
    ``ENV``; ``preexec``: run in the child before it starts, e.g. to set a resource limit)."""
    return subprocess.Popen(
        [H2S2R, *map(str, args)],
        cwd=cwd,
        env=ENV if env is None else env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=preexec,
    )


def finish(p: subprocess.Popen, args: list, t0: float, timeout: float = TIMEOUT_S) -> Run:
    try:
        out, err = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        _kill_group(p)
        out, err = p.communicate()
        rc = None
    _kill_group(p)  # nodes a command left behind
    return Run([*["h2s2r"], *map(str, args)], rc, out, err, time.perf_counter() - t0)


def h2s2r(*args, cwd: Path | None = None, timeout: float = TIMEOUT_S, env=None) -> Run:
    t0 = time.perf_counter()
    return finish(start(list(args), cwd, env), list(args), t0, timeout)


def wait_for(cond: Callable[[], bool], p: subprocess.Popen, limit_s: float) -> bool:
    """Poll ``cond`` every 10 ms while ``p`` runs; whether it became true."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s and p.poll() is None:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def digest(folder: Path) -> str:
    """sha256 over the files of a folder (names and bytes), timing.json aside."""
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.name != "timing.json":
            h.update(str(f.relative_to(folder)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def leftovers(ws: Path) -> list[str]:
    """Hidden partial/replaced folders and temporary files an interrupted write left."""
    return sorted(
        str(p.relative_to(ws))
        for p in ws.rglob(".*")
        if re.search(r"(\.partial|\.replaced|\.tmp-\d+)$", p.name)
    )


# ----------------------------------------------------------------------------- verdicts
@dataclass
class Outcome:
    verdict: str  # GOOD | WEAK | BAD
    why: str
    runs: list[Run] = field(default_factory=list)


def refused(run: Run, names: str, fix: str = FIX, checks=(), runs=()) -> Outcome:
    """A bad input must be refused without a traceback, naming ``names`` (regex) and
    saying what to do (``fix``); ``checks`` (``(ok, what)``) look at the workspace after."""
    allruns = [*runs, run]
    if run.timed_out:
        return Outcome("BAD", f"hang: killed after {run.wall_s:.0f} s", allruns)
    if run.traceback:
        return Outcome("BAD", "traceback", allruns)
    failed = [what for ok, what in checks if not ok]
    if failed:
        return Outcome("BAD", "; ".join(failed), allruns)
    if run.rc == 0:
        return Outcome("BAD", "exit 0 on a bad input", allruns)
    msg = run.message
    missing = []
    if not re.search(names, msg, re.I | re.S):
        missing.append(f"does not name the culprit (/{names}/)")
    if not re.search(fix, re.sub(r"/[^\s:'\"`]+", "PATH", msg), re.I | re.S):  # not in paths
        missing.append("says nothing to do" if fix == FIX else f"gives not the fix /{fix}/")
    if missing:
        return Outcome("WEAK", "refused, but the message " + " and ".join(missing), allruns)
    return Outcome("GOOD", "refused with a message naming the culprit and a fix", allruns)


def succeeded(run: Run, checks=(), runs=()) -> Outcome:
    """A fine (or recoverable) input must work and give the right result."""
    allruns = [*runs, run]
    if run.timed_out:
        return Outcome("BAD", f"hang: killed after {run.wall_s:.0f} s", allruns)
    if run.traceback:
        return Outcome("BAD", "traceback", allruns)
    if run.rc != 0:
        return Outcome("WEAK", "refused an input that is fine", allruns)
    failed = [what for ok, what in checks if not ok]
    if failed:
        return Outcome("BAD", "exit 0 but " + "; ".join(failed), allruns)
    return Outcome("GOOD", "works, result checked", allruns)


# ----------------------------------------------------------------------------- cases
@dataclass
class Case:
    name: str
    stage: str
    what: str
    fn: Callable[[Fixtures], Outcome]
    # 1: the first held-out round (fixed since); 2: the second; … 12: the twelfth
    round: int = 1


CASES: list[Case] = []


def case(stage: str, what: str, round: int = 1):
    def reg(fn):
        CASES.append(Case(fn.__name__, stage, what, fn, round))
        return fn

    return reg
