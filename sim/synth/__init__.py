"""Synthetic demos with exact ground truth (``h2s2r synth``)."""

from h2s2r.sim.synth.synth import SynthConfig, run_synth
from h2s2r.sim.synth.tasks import TASKS

__all__ = ["TASKS", "SynthConfig", "run_synth"]
