"""Object 6-DoF pose tracking (``h2s2r track-object``)."""
