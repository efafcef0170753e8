"""calibration stage."""

