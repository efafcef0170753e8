"""What a running node records, written once when it stops (``deploy_log/<node>.npz``).

Rows of named numbers or arrays (one row per loop), plus events (time, kind, detail);
``save`` writes them with :func:`h2s2r.core.artifacts.base.save_npz` atomically (a
temporary file renamed into place), so a node killed mid-write leaves no torn log.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from h2s2r.core.artifacts.base import save_npz


class RunLog:
    def __init__(self) -> None:
        self.rows: dict[str, list] = defaultdict(list)
        self.events: list[dict] = []

    def add(self, **values) -> None:
        for k, v in values.items():
            self.rows[k].append(v)

    def event(self, t: float, kind: str, detail: str) -> None:
        self.events.append({"t": float(t), "kind": kind, "detail": detail})

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        arrays = {k: np.asarray(v) for k, v in self.rows.items()}
        arrays["events_json"] = np.array(json.dumps(self.events))
        save_npz(tmp, arrays)
        tmp.replace(path)
        return path


def load_run_log(path: str | Path) -> tuple[dict[str, np.ndarray], list[dict]]:
    with np.load(path, allow_pickle=False) as z:
        rows = {k: z[k] for k in z.files if k != "events_json"}
        events = json.loads(str(z["events_json"])) if "events_json" in z.files else []
    return rows, events


__all__ = ["RunLog", "load_run_log"]
