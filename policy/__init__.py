"""policy stage."""

