"""Hand keypoints from the demo video (``h2s2r track-hand``)."""
