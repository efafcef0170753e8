"""Simulation tasks (one file each) built from the task/ artifact."""
