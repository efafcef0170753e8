"""Retargeting the demo to the robot (``h2s2r retarget``)."""
