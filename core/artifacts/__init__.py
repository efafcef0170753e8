"""Typed artifacts: one frozen dataclass per workspace folder, each with save/load."""

from h2s2r.core.artifacts.base import Provenance, sha256_file
from h2s2r.core.artifacts.capture import Capture, CaptureWriter
from h2s2r.core.artifacts.learning import DeployLog, EvalResult, PolicyExport, TrainRun
from h2s2r.core.artifacts.scene import Calibration, GroundTruth, ObjectMesh
from h2s2r.core.artifacts.task import Task
from h2s2r.core.artifacts.tracks import HandTrack, ObjectTrack

# Workspace folder name -> artifact class (DESIGN.md's workspace layout).
ARTIFACTS = {
    cls.FOLDER: cls
    for cls in (
        Capture,
        ObjectMesh,
        GroundTruth,
        Calibration,
        ObjectTrack,
        HandTrack,
        Task,
        TrainRun,
        EvalResult,
        PolicyExport,
        DeployLog,
    )
}

__all__ = [
    "ARTIFACTS",
    "Calibration",
    "Capture",
    "CaptureWriter",
    "DeployLog",
    "EvalResult",
    "GroundTruth",
    "HandTrack",
    "ObjectMesh",
    "ObjectTrack",
    "PolicyExport",
    "Provenance",
    "Task",
    "TrainRun",
    "sha256_file",
]
