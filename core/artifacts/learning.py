"""``train/``, ``eval/``, ``policy/`` and ``deploy_log/``: what learning and deployment write.

Their producers arrive with later stages; the contracts (files and keys of DESIGN.md)
are fixed here so every stage and tool agrees on them now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from h2s2r.core.artifacts.base import ArtifactBase, Provenance, read_json, write_json
from h2s2r.core.artifacts.scene import _prov
from h2s2r.core.artifacts.tracks import METRICS_FILE, read_metrics, write_metrics
from h2s2r.core.errors import ArtifactError


class _MetricsArtifact(ArtifactBase):
    """An artifact whose contract is a ``metrics.json`` with required keys."""

    REQUIRED: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def _check_required(cls, folder: Path, metrics: Mapping[str, float]) -> None:
        missing = [k for k in cls.REQUIRED if k not in metrics]
        if missing:
            raise ArtifactError(folder / METRICS_FILE, f"lacks keys {missing}", cls._rerun())


@dataclass(frozen=True)
class TrainRun(ArtifactBase):
    """A training run: its checkpoints (files in ``train/``) and progress counters."""

    SCHEMA: ClassVar[str] = "train"
    VERSION: ClassVar[int] = 1
    FOLDER: ClassVar[str] = "train"
    PRODUCER: ClassVar[str] = "h2s2r train DIR"
    FILE: ClassVar[str] = "run.json"

    checkpoints: tuple[str, ...]
    env_steps: int
    wall_time_s: float
    backend: str = "mujoco"
    provenance: Provenance = field(default_factory=Provenance)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for c in self.checkpoints:
            if not (folder / c).is_file():
                raise ArtifactError(folder / c, "checkpoint listed but missing", self._rerun())
        write_json(
            folder / self.FILE,
            {
                "checkpoints": list(self.checkpoints),
                "env_steps": self.env_steps,
                "wall_time_s": self.wall_time_s,
                "backend": self.backend,
            },
        )
        self.write_meta(folder, self.provenance, files=[self.FILE, *self.checkpoints])

    @classmethod
    def load(cls, folder: str | Path) -> TrainRun:
        folder = Path(folder)
        meta = cls.read_meta(folder)
        d = read_json(folder / cls.FILE, cls.PRODUCER)
        try:
            return cls(
                checkpoints=tuple(d["checkpoints"]),
                env_steps=int(d["env_steps"]),
                wall_time_s=float(d["wall_time_s"]),
                backend=str(d["backend"]),
                provenance=_prov(meta),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(folder / cls.FILE, f"lacks or mangles {e}", cls._rerun()) from e


@dataclass(frozen=True)
class EvalResult(_MetricsArtifact):
    """Evaluation of the policy and the replay baselines in the same simulator."""

    SCHEMA: ClassVar[str] = "eval"
    VERSION: ClassVar[int] = 1
    FOLDER: ClassVar[str] = "eval"
    PRODUCER: ClassVar[str] = "h2s2r eval DIR"
    REQUIRED: ClassVar[tuple[str, ...]] = (
        "success_rate",
        "replay_success_rate",
        "object_aware_replay_success_rate",
        "tracking_err_mean_m",
        "episodes",
    )

    metrics: Mapping[str, float]
    provenance: Provenance = field(default_factory=Provenance)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._check_required(folder, self.metrics)
        write_metrics(folder, self.metrics)
        self.write_meta(folder, self.provenance, files=[METRICS_FILE])

    @classmethod
    def load(cls, folder: str | Path) -> EvalResult:
        folder = Path(folder)
        meta = cls.read_meta(folder)
        metrics = read_metrics(folder, cls.PRODUCER)
        cls._check_required(folder, metrics)
        return cls(metrics=metrics, provenance=_prov(meta))


@dataclass(frozen=True)
class DeployLog(_MetricsArtifact):
    """What a deployment measured (success, timing jitter, latency, watchdog events)."""

    SCHEMA: ClassVar[str] = "deploy_log"
    VERSION: ClassVar[int] = 1
    FOLDER: ClassVar[str] = "deploy_log"
    PRODUCER: ClassVar[str] = "h2s2r deploy DIR"
    REQUIRED: ClassVar[tuple[str, ...]] = (
        "success",
        "policy_period_jitter_p99_ms",
        "latency_p99_ms",
        "watchdog_events",
    )

    metrics: Mapping[str, float]
    provenance: Provenance = field(default_factory=Provenance)

    save = EvalResult.save

    @classmethod
    def load(cls, folder: str | Path) -> DeployLog:
        folder = Path(folder)
        meta = cls.read_meta(folder)
        metrics = read_metrics(folder, cls.PRODUCER)
        cls._check_required(folder, metrics)
        return cls(metrics=metrics, provenance=_prov(meta))


@dataclass(frozen=True)
class PolicyExport(ArtifactBase):
    """The deploy contract: ``policy.onnx`` (input ``obs``, output ``actions``) + header."""

    SCHEMA: ClassVar[str] = "policy"
    VERSION: ClassVar[int] = 1
    FOLDER: ClassVar[str] = "policy"
    PRODUCER: ClassVar[str] = "h2s2r export DIR"
    ONNX_FILE: ClassVar[str] = "policy.onnx"
    HEADER_FILE: ClassVar[str] = "policy.json"
    REQUIRED: ClassVar[tuple[str, ...]] = (
        "observation_layout",
        "action_semantics",
        "ctrl_dt_s",
        "joint_names",
        "robot",
    )

    header: Mapping[str, Any]
    onnx_bytes: bytes = b""
    provenance: Provenance = field(default_factory=Provenance)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._check_header(folder / self.HEADER_FILE, self.header)
        (folder / self.ONNX_FILE).write_bytes(self.onnx_bytes)
        write_json(folder / self.HEADER_FILE, self.header)
        self.write_meta(folder, self.provenance, files=[self.ONNX_FILE, self.HEADER_FILE])

    @classmethod
    def load(cls, folder: str | Path) -> PolicyExport:
        folder = Path(folder)
        meta = cls.read_meta(folder)
        header = read_json(folder / cls.HEADER_FILE, cls.PRODUCER)
        cls._check_header(folder / cls.HEADER_FILE, header)
        return cls(
            header=header, onnx_bytes=(folder / cls.ONNX_FILE).read_bytes(), provenance=_prov(meta)
        )

    @classmethod
    def _check_header(cls, path: Path, header: Mapping[str, Any]) -> None:
        missing = [k for k in cls.REQUIRED if k not in header]
        if missing:
            raise ArtifactError(path, f"header lacks keys {missing}", cls._rerun())
        if not float(header["ctrl_dt_s"]) > 0:
            raise ArtifactError(path, "ctrl_dt_s must be > 0 (seconds)", cls._rerun())
