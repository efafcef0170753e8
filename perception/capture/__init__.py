"""Recording (RealSense) and importing demos (``h2s2r capture`` / ``h2s2r import``)."""
