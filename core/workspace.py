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
    writer = workspace_writer(root)
    for folder in present:
        try:
            loaded[folder] = ARTIFACTS[folder].load(root / folder)
        except H2S2RError as e:
            if writer is not None and folder in writer["writes"]:
                # Not broken: unfinished. Say who writes it and to wait, not to re-run.
                problems.append(
                    f"{root / folder}: being written by {_describe(writer)} — wait for it "
                    f"to finish (or stop it), then run `h2s2r validate {root}` again"
                )
            else:
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


def workspace_writer(root: str | Path) -> dict | None:
    """The command holding ``root``'s lock (``{"pid", "command", "since", "writes"}``:
    ``writes`` the folders it may write), or ``None`` when no h2s2r command writes it.
    Reading commands (``validate``) ask, so that an unfinished folder is not called
    broken."""
    import fcntl

    path = Path(root) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                d = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
            except (ValueError, OSError):
                d = {}
            d = d if isinstance(d, dict) else {}
            if d.get("pid") == os.getpid():  # this very command holds it
                return None
            writes = d.get("writes")
            d["writes"] = tuple(writes) if isinstance(writes, list) else tuple(ARTIFACTS)
            return d
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _describe(holder: dict) -> str:
    if "command" in holder and "pid" in holder:
        return f"`{holder['command']}` (pid {holder['pid']}, since {holder.get('since', '?')})"
    return "another h2s2r command (pid unknown)"


def _unexpanded_tilde(root: Path) -> str:
    """For a path whose first part is a literal ``~`` or ``~user`` (quoted on the command
    line, so the shell did not expand it): what to say; else ``""``."""
    first = root.parts[0] if root.parts else ""
    if not first.startswith("~"):
        return ""
    home = "$HOME" if first == "~" else "the full path of that user's home"
    rest = "/".join(root.parts[1:])
    example = f'"$HOME/{rest}"' if first == "~" and rest else home
    return (
        f"the shell did not expand '{first}' (the path was quoted): "
        f"use {example} or an unquoted {root}"
    )


def require_workspace(root: str | Path) -> Path:
    """``root`` as a Path, or a one-line :class:`H2S2RError` naming it when the folder
    does not exist (for the verbs that read a workspace a former command made)."""
    root = Path(root)
    if root.exists():
        return root  # a file at the place: workspace_lock names it
    tilde = _unexpanded_tilde(root)
    if tilde:
        raise H2S2RError(f"{root}: workspace folder does not exist — {tilde}")
    where = "" if root.is_absolute() else f" (in {Path.cwd()})"
    raise H2S2RError(
        f"{root}: workspace folder does not exist{where} — check the path, or make the "
        f"workspace first with `h2s2r import --from PATH {root}` or `h2s2r synth --out {root}`"
    )


@contextlib.contextmanager
def workspace_lock(
    root: str | Path,
    command: str,
    log=print,
    writes: tuple[str, ...] | None = None,
    create: bool = True,
) -> Iterator[Path]:
    """Hold the workspace for one writing command: a second writer stops at once with a
    message naming the first; ``writes`` (the folders it writes; ``None``: any) tells
    ``validate`` which folders are unfinished rather than broken. The lock is an
    ``flock`` on ``<root>/.h2s2r.lock``, which the kernel releases when the holder dies,
    so a killed command never leaves the workspace locked. Taking it also undoes what an
    interrupted folder write left (:func:`~h2s2r.core.artifacts.base.recover_folder`).

    ``create=False`` (a verb that reads a workspace a former command made) refuses a
    missing ``root`` before anything is made. With ``create=True`` the folder and any
    missing parents are made, and removed again, all of them, when the command wrote
    nothing there."""
    import fcntl

    from h2s2r.core.artifacts.base import PARTIAL, REPLACED, recover_folder

    root = Path(root)
    if root.exists() and not root.is_dir():
        raise H2S2RError(
            f"{root}: is a file, not a workspace folder — give the workspace folder (a "
            f"recording goes in with `h2s2r import --from {root} DIR`)"
        )
    if not create:
        require_workspace(root)
    tilde = _unexpanded_tilde(root)
    if tilde and not Path(root.parts[0]).exists():
        raise H2S2RError(
            f"{root}: would make a folder named '{root.parts[0]}' in {Path.cwd()} — {tilde}"
        )
    # The folders this command makes, deepest first: removed again if it writes nothing.
    made = [p for p in (root, *root.parents) if not p.exists()]
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
            json.dumps(
                {
                    "pid": os.getpid(),
                    "command": command,
                    "since": time.ctime(),
                    "writes": list(ARTIFACTS if writes is None else writes),
                }
            ).encode(),
            0,
        )
        # What an interrupted folder write left: hidden siblings of any kind (a folder,
        # or a file or link that was at an artifact's place), and, for an artifact folder
        # that is a link (policy/ on a share), those beside the link's target.
        names = set()
        for p in sorted(root.iterdir()):
            for suffix in (PARTIAL, REPLACED):
                if p.name.startswith(".") and p.name.endswith(suffix):
                    names.add(p.name[1 : -len(suffix)])
            if p.is_symlink() and not p.name.startswith("."):
                names.add(p.name)
        for name in sorted(names):
            said = recover_folder(root / name)
            if said:
                log(said)
        yield root
    finally:
        os.close(fd)  # releases the flock
        if made and [p.name for p in root.iterdir()] == [LOCK_FILE]:
            path.unlink()  # a command that failed before writing leaves no new folder
            for d in made:  # nor the parents it made (`~/runs/mug` quoted: `~` and `~/runs`)
                try:
                    d.rmdir()
                except OSError:  # something else was put there meanwhile: keep it
                    break


def _read_holder(fd: int) -> str:
    try:
        d = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"`{d['command']}`, pid {d['pid']}, since {d['since']}"
    except (ValueError, KeyError, OSError):
        return "pid unknown"
