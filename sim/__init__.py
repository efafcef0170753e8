"""sim stage."""

