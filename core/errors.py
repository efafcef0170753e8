"""One exception base class for everything h2s2r reports to a user.

Every message says what is wrong, where (a file or an option), and how to fix it.
"""

from __future__ import annotations

from pathlib import Path


class H2S2RError(Exception):
    """Base class: a problem the user can fix; the CLI prints it without a traceback."""

    exit_code = 1


class ArtifactError(H2S2RError):
    """An artifact file is missing, malformed, stale or inconsistent."""

    def __init__(self, path: str | Path, problem: str, fix: str):
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem} — {fix}")


class RegistryError(H2S2RError, KeyError):
    """An unknown name was asked of a registry; the message lists the valid names."""

    def __init__(self, kind: str, name: str, valid: list[str] | tuple[str, ...]):
        self.kind, self.name, self.valid = kind, name, tuple(valid)
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(sorted(valid))}")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]
