"""Print requirements.lock from the current environment (``make lock``).

Every installed distribution at its version, except: torch (``scripts/setup.sh`` installs
the CPU wheel first, pinned on its own), h2s2r itself, and distributions that another
wheel carries inside it (``.egg-info`` metadata, as the ``ros-jazzy-*`` wheels carry
``rclpy``, ``std_msgs`` …): those are not on PyPI under their own names.
"""

from __future__ import annotations

from importlib import metadata

SKIP = {"torch", "h2s2r", "pip", "setuptools", "wheel"}

lines = set()
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    path = getattr(dist, "_path", None)
    if name is None or name.lower() in SKIP or (path is not None and path.suffix == ".egg-info"):
        continue
    lines.add(f"{name}=={dist.version}")
print("\n".join(sorted(lines, key=str.lower)))
