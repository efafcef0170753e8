"""Synthetic demos with exact ground truth (``h2s2r synth``)."""

from sim.synth.synth import SynthConfig, run_synth
from sim.synth.tasks import TASKS

__all__ = ["TASKS", "SynthConfig", "run_synth"]
