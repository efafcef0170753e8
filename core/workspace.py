"""A demo workspace: a folder of artifact folders (DESIGN.md), validated as a whole."""

from __future__ import annotations

from pathlib import Path

from h2s2r.core.artifacts import ARTIFACTS, Capture
from h2s2r.core.errors import ArtifactError, H2S2RError


def validate_workspace(root: str | Path) -> dict[str, object]:
    """Load every artifact present under ``root`` and cross-check frame counts.

    Returns ``{folder: artifact}``; raises :class:`ArtifactError` on the first problem.
    """
    root = Path(root)
    if not root.is_dir():
        raise H2S2RError(
            f"{root}: workspace folder does not exist — run `h2s2r synth --out "
            f"{root}` or `h2s2r import --from PATH {root}` first"
        )
    loaded: dict[str, object] = {}
    for folder, cls in ARTIFACTS.items():
        if (root / folder).is_dir():
            loaded[folder] = cls.load(root / folder)
    if not loaded:
        raise ArtifactError(
            root,
            f"holds no artifact folder ({', '.join(ARTIFACTS)})",
            "run `h2s2r synth` or `h2s2r import` into it",
        )
    cap = loaded.get("capture")
    if isinstance(cap, Capture):
        cap.verify_frames()
        for folder in ("ground_truth", "object_track", "hand_track"):
            art = loaded.get(folder)
            if art is None:
                continue
            n = art.num_frames if folder == "ground_truth" else len(art.valid)  # type: ignore[attr-defined]
            if n != cap.num_frames:
                raise ArtifactError(
                    root / folder,
                    f"has {n} frames but capture/ has {cap.num_frames}",
                    f"re-run `{ARTIFACTS[folder].PRODUCER}`",
                )
    return loaded
