"""Joint commands as the drivers' messages (:mod:`h2s2r.core.robot_io` outputs)."""

from __future__ import annotations

import numpy as np

from h2s2r.core.robot_io import Output
from h2s2r.core.rosmsg import command_message, command_msg_type


class Adapter:
    """One output: picks its joints from a command vector (registry order) and builds
    the driver's message."""

    def __init__(self, output: Output, registry_names: tuple[str, ...], period_s: float):
        self.output = output
        index = {n: i for i, n in enumerate(registry_names)}
        self.index = np.array([index[j] for j in output.joints])
        self.names = list(output.driver_names or output.joints)
        self.period_s = period_s
        self.msg_type = command_msg_type(output.type)

    def values(self, command: np.ndarray) -> np.ndarray:
        """The command's values for this driver, in its order."""
        return np.asarray(command)[self.index]

    def message(self, command: np.ndarray, t_s: float):
        return command_message(
            self.output.type, self.names, self.values(command), t_s, self.period_s
        )


__all__ = ["Adapter"]
