"""deploy stage."""

