"""A demo workspace: a folder of artifact folders (DESIGN.md), validated as a whole."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from h2s2r.core.artifacts import ARTIFACTS, Capture
from h2s2r.core.errors import ArtifactError, H2S2RError


class WorkspaceError(H2S2RError):
    """Every problem :func:`check_workspace` found, one per line."""

    def __init__(self, root: Path, problems: list[str]):
        self.problems = problems
        n = len(problems)
        super().__init__(
            f"{root}: {n} problem{'s' if n > 1 else ''}\n" + "\n".join(f"  - {p}" for p in problems)
        )


def check_workspace(root: str | Path) -> tuple[dict[str, object], list[str]]:
    """Load every artifact present under ``root`` (each capture frame re-hashed) and
    cross-check frame counts. Returns ``({folder: artifact}, problems)``: one problem per
    folder that does not load, every one of them, not just the first."""
    root = Path(root)
    if not root.is_dir():
        raise H2S2RError(
            f"{root}: workspace folder does not exist — run `h2s2r synth --out "
            f"{root}` or `h2s2r import --from PATH {root}` first"
        )
    if (root / "meta.json").is_file() and root.name in ARTIFACTS:
        raise H2S2RError(
            f"{root}: is the {root.name}/ artifact folder, not a workspace — validate the "
            f"workspace that holds it: `h2s2r validate {root.parent}`"
        )
    loaded: dict[str, object] = {}
    problems: list[str] = []
    present = [f for f in ARTIFACTS if (root / f).is_dir()]
    if not present:
        raise ArtifactError(
            root,
            f"holds no artifact folder ({', '.join(ARTIFACTS)})",
            "run `h2s2r synth` or `h2s2r import` into it",
        )
    for folder in present:
        try:
            loaded[folder] = ARTIFACTS[folder].load(root / folder)
        except H2S2RError as e:
            problems.append(str(e))
    cap = loaded.get("capture")
    if isinstance(cap, Capture):
        for folder in ("ground_truth", "object_track", "hand_track"):
            art = loaded.get(folder)
            if art is None:
                continue
            n = art.num_frames if folder == "ground_truth" else len(art.valid)  # type: ignore[attr-defined]
            if n != cap.num_frames:
                problems.append(
                    str(
                        ArtifactError(
                            root / folder,
                            f"has {n} frames but capture/ has {cap.num_frames}",
                            f"re-run `{ARTIFACTS[folder].PRODUCER}`",
                        )
                    )
                )
    return loaded, problems


def validate_workspace(root: str | Path) -> dict[str, object]:
    """:func:`check_workspace`, raising :class:`WorkspaceError` listing every problem."""
    loaded, problems = check_workspace(root)
    if problems:
        raise WorkspaceError(Path(root), problems)
    return loaded


LOCK_FILE = ".h2s2r.lock"


@contextlib.contextmanager
def workspace_lock(root: str | Path, command: str, log=print) -> Iterator[Path]:
    """Hold the workspace for one writing command: a second writer stops at once with a
    message naming the first. The lock is an ``flock`` on ``<root>/.h2s2r.lock``, which
    the kernel releases when the holder dies, so a killed command never leaves the
    workspace locked. Taking it also undoes what an interrupted folder write left
    (:func:`~h2s2r.core.artifacts.base.recover_folder`)."""
    import fcntl

    from h2s2r.core.artifacts.base import PARTIAL, REPLACED, recover_folder

    root = Path(root)
    if root.exists() and not root.is_dir():
        raise H2S2RError(
            f"{root}: is a file, not a workspace folder — give the workspace folder (a "
            f"recording goes in with `h2s2r import --from {root} DIR`)"
        )
    created = not root.exists()
    path = root / LOCK_FILE
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise H2S2RError(
            f"{root}: cannot write here ({e.strerror}) — choose a folder you can write to"
        ) from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            raise H2S2RError(
                f"{root}: another h2s2r command is writing this workspace ({holder}); wait for "
                "it to finish or stop it, then run this one again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(
            fd,
            json.dumps({"pid": os.getpid(), "command": command, "since": time.ctime()}).encode(),
            0,
        )
        for p in sorted(root.iterdir()):
            for suffix in (PARTIAL, REPLACED):
                if p.name.startswith(".") and p.name.endswith(suffix) and p.is_dir():
                    said = recover_folder(root / p.name[1 : -len(suffix)])
                    if said:
                        log(said)
        yield root
    finally:
        os.close(fd)  # releases the flock
        if created and [p.name for p in root.iterdir()] == [LOCK_FILE]:
            path.unlink()  # a command that failed before writing leaves no new folder
            root.rmdir()


def _read_holder(fd: int) -> str:
    try:
        d = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"`{d['command']}`, pid {d['pid']}, since {d['since']}"
    except (ValueError, KeyError, OSError):
        return "pid unknown"
