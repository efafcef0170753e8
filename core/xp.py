"""One array API for the task: numpy on the CPU backend, torch on the GPU backend.

The task, its rewards, observations, goal path and controller are written once against
an array namespace ``xp`` (the Python array API standard: ``xp.concat``, ``xp.where``,
``xp.linalg.solve``…). :func:`namespace` picks it from the arrays a function receives:
numpy itself for numpy arrays (and lists or scalars), ``array_api_compat.torch`` for torch
tensors, so ``torch`` is imported only where tensors already exist (the deploy policy
node and perception never load it).

:class:`Arrays` carries what a batched task needs beyond the namespace: the device, the
float type (float64 on the CPU backend, float32 on MuJoCo Warp), conversion of host
constants and a random generator whose draws are the same calls on both backends
(numpy's ``Generator`` stays bit-identical to the task's earlier numpy code).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def is_torch(x: Any) -> bool:
    """Whether ``x`` is a torch tensor (without importing torch)."""
    return type(x).__module__.startswith("torch")


def namespace(*arrays: Any):
    """The array namespace of ``arrays``: ``array_api_compat.torch`` if any is a torch
    tensor, else numpy."""
    if any(is_torch(a) for a in arrays):
        from array_api_compat import torch as xt

        return xt
    return np


class Random:
    """Draws on the arrays' device: numpy's ``Generator`` or a torch ``Generator``.

    The numpy draws are exactly ``np.random.Generator``'s (same calls, same order as the
    task's original numpy code), so CPU runs keep their streams."""

    def __init__(self, arrays: Arrays, seed: int):
        self.a = arrays
        if arrays.torch:
            import torch

            self.gen = torch.Generator(device=arrays.device)
            self.gen.manual_seed(int(seed))
        else:
            self.gen = np.random.default_rng(seed)

    def uniform(self, lo: float, hi: float, shape) -> Any:
        if not self.a.torch:
            return self.gen.uniform(lo, hi, shape)
        import torch

        u = torch.rand(shape, generator=self.gen, device=self.a.device, dtype=self.a.float)
        return lo + (hi - lo) * u

    def normal(self, std: float, shape) -> Any:
        if not self.a.torch:
            return self.gen.normal(0.0, std, shape)
        import torch

        return std * torch.randn(
            shape, generator=self.gen, device=self.a.device, dtype=self.a.float
        )

    def integers(self, lo: int, hi: int, n: int) -> Any:
        """``n`` integers in ``[lo, hi)``."""
        if not self.a.torch:
            return self.gen.integers(lo, hi, n)
        import torch

        return torch.randint(lo, hi, (n,), generator=self.gen, device=self.a.device)


class Arrays:
    """The namespace, device and float type of one batched task, and host → device."""

    def __init__(self, device: str = "numpy", float_dtype: str = "float64"):
        self.torch = device != "numpy"
        if self.torch:
            import torch
            from array_api_compat import torch as xt

            self.xp, self.device = xt, torch.device(device)
            self.float = getattr(torch, float_dtype)
            self.int = torch.int64
            self.bool = torch.bool
        else:
            self.xp, self.device = np, None
            self.float = np.dtype(float_dtype)
            self.int = np.dtype(np.int64)
            self.bool = np.dtype(bool)

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        """``x`` (numpy or a list) as an array of this task (float unless ``dtype``)."""
        dtype = self.float if dtype is None else dtype
        if self.torch:
            import torch

            if is_torch(x):
                return x.to(device=self.device, dtype=dtype)
            return torch.as_tensor(np.asarray(x), device=self.device).to(dtype)
        return np.asarray(to_numpy(x), dtype=dtype)

    def zeros(self, shape, dtype: Any = None) -> Any:
        dtype = self.float if dtype is None else dtype
        return self.xp.zeros(shape, dtype=dtype, device=self.device)

    def ones(self, shape, dtype: Any = None) -> Any:
        dtype = self.float if dtype is None else dtype
        return self.xp.ones(shape, dtype=dtype, device=self.device)

    def arange(self, n: int) -> Any:
        return self.xp.arange(n, dtype=self.int, device=self.device)

    def index(self, ids: Any) -> Any:
        """World indices ``ids`` (numpy, a list or an array of this task) as an int array."""
        return self.asarray(ids, dtype=self.int)

    def mask(self, ids: Any, n: int) -> Any:
        """``(n,)`` bool mask of the worlds ``ids``: indices, or already a ``(n,)`` mask."""
        if str(getattr(ids, "dtype", "")) in ("bool", "torch.bool") and tuple(ids.shape) == (n,):
            return self.asarray(ids, dtype=self.bool)
        out = self.zeros(n, dtype=self.bool)
        out[self.index(ids)] = True
        return out

    def numpy(self, x: Any) -> np.ndarray:
        """A host numpy copy (for logging, rendering and tests)."""
        return to_numpy(x)


def to_numpy(x: Any) -> np.ndarray:
    """``x`` as numpy (a torch tensor is copied to the host)."""
    if is_torch(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


__all__ = ["Arrays", "Random", "is_torch", "namespace", "to_numpy"]
