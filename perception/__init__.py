"""perception stage."""

