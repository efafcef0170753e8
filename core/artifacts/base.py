"""What every artifact folder shares: ``meta.json``, hashes, provenance and checks.

``meta.json`` of every artifact holds

- ``schema``: ``{"name": ..., "version": int}``;
- ``h2s2r_version``: the producing package version;
- ``config``: the configuration the producing stage ran with;
- ``upstream``: ``{path relative to the workspace: sha256}`` of each upstream file read;
- ``files``: ``{file in this folder: sha256}`` of the payload written;
- artifact-specific keys (e.g. ``fps`` for ``capture/``).

Nothing time-dependent is hashed, so the same inputs give the same bytes: timings go to
``timing.json`` (:func:`write_timing`), which no ``meta.json`` lists.

Every write is atomic. A file is written beside its destination and renamed into place
(:func:`atomic_write`); a folder is built as a hidden sibling and renamed into place
(:func:`staged_folder`). A killed stage leaves the old artifact or the new one, never a
mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from h2s2r import __version__
from h2s2r.core.errors import ArtifactError

META_FILE = "meta.json"
TIMING_FILE = "timing.json"
PARTIAL = ".partial"  # suffix of a folder being written: ``.<name>.partial``
REPLACED = ".replaced"  # suffix of the folder it replaces, for the instant of the swap
# In a folder written by :func:`staged_folder`: the files its writer put there (any other
# is a user's, kept when the folder is written again).
WRITTEN_FILE = ".h2s2r-written.json"


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary sibling and a rename: a reader (or a
    kill) sees the old bytes or the new ones."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def partial_path(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}{PARTIAL}")


def replaced_path(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}{REPLACED}")


def _present(path: Path) -> bool:
    """Something is at ``path``: a folder, a file, or a symbolic link (even a broken one)."""
    return path.exists() or path.is_symlink()


def _remove(path: Path) -> None:
    """Remove what is at ``path``: a folder tree, or a file or symbolic link (never what a
    link points to). ``shutil.rmtree`` alone refuses a file or a link, which
    ``ignore_errors`` would hide."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif _present(path):
        path.unlink()


def _through_link(folder: Path) -> Path:
    """Where an artifact folder at ``folder`` really lives: ``folder`` itself, or, when it
    is a symbolic link to a folder (``policy/`` on the robot PC's share), the folder it
    points to. A link to a file, or a broken link whose folder's parent is gone, is
    ``folder`` itself."""
    if not folder.is_symlink():
        return folder
    target = folder.resolve()
    if target.is_dir() or (not target.exists() and target.parent.is_dir()):
        return target
    return folder


@contextlib.contextmanager
def staged_folder(folder: str | Path) -> Iterator[Path]:
    """Build an artifact folder as ``.<name>.partial`` beside it, renamed into place when
    the block ends without an error. On an error or a kill the old folder stays as it was;
    the partial one is removed (or, after a kill, by the next writer). Files in the old
    folder that no h2s2r writer put there (listed in ``WRITTEN_FILE``) are copied into
    the new one and named on stderr: a user's notes survive a re-export.

    Where ``folder`` is a symbolic link to a folder (e.g. ``policy/`` linked to the robot
    PC's share), the new folder goes into the link's target, staged beside it, and the
    link stays; a file (or a link to a file) at ``folder`` is replaced (the linked file is
    not touched). A broken link whose target's folder is gone is refused.

    >>> with staged_folder(ws / "task") as out:   # doctest: +SKIP
    ...     task.save(out); write_metrics(out, m)
    """
    link = Path(folder)
    folder = _through_link(link)
    if folder == link and link.is_symlink() and not link.exists():
        raise ArtifactError(
            link,
            f"is a broken link to {link.resolve()}, whose folder does not exist",
            "reconnect the share it points to, or remove the link to write a local folder",
        )
    tmp, old = partial_path(folder), replaced_path(folder)
    _remove(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        written = _files_in(tmp)
        atomic_write(tmp / WRITTEN_FILE, json.dumps(written, indent=0).encode())
        if _present(old) and not _present(folder):
            old.rename(folder)  # an earlier swap was killed halfway: its old folder is current
        kept = _keep_foreign_files(folder, tmp, set(written))
    except BaseException:
        with contextlib.suppress(OSError):
            _remove(tmp)
        raise
    if kept:
        shown = ", ".join(kept[:5]) + (" …" if len(kept) > 5 else "")
        print(f"note: {folder.name}/: kept {shown} (not written by h2s2r)", file=sys.stderr)
    _remove(old)
    if _present(folder):
        folder.rename(old)
    tmp.rename(folder)
    with contextlib.suppress(OSError):  # the new folder is in place; the next writer retries
        _remove(old)


def _files_in(folder: Path) -> list[str]:
    """Every file under ``folder``, as sorted paths relative to it."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir())


def note_written(folder: str | Path, *names: str) -> None:
    """Add files h2s2r writes into an artifact folder after :func:`staged_folder` put it
    in place (``timing.json``, ``machine.json``) to its ``WRITTEN_FILE`` list, so that a
    rewrite does not keep them as a user's. A folder without the list is left alone."""
    path = Path(folder) / WRITTEN_FILE
    try:
        listed = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    merged = sorted(set(listed) | set(names))
    if merged != listed:
        atomic_write(path, json.dumps(merged, indent=0).encode())


def _keep_foreign_files(folder: Path, new: Path, written: set[str]) -> list[str]:
    """Copy into ``new`` the files of the artifact folder ``folder`` that no h2s2r
    writer put there (a user's notes beside an exported policy): those not in its
    ``WRITTEN_FILE`` list, or, for a folder written before that list existed, those the
    new writer does not write either. Copied, not moved: until the swap the old folder
    stays whole. Returns their paths."""
    if not folder.is_dir():
        return []
    try:
        ours = set(json.loads((folder / WRITTEN_FILE).read_text())) | {WRITTEN_FILE}
    except (OSError, ValueError, TypeError):
        ours = written | {WRITTEN_FILE}
    kept = [f for f in _files_in(folder) if f not in ours and f not in written]
    for f in kept:
        (new / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / f, new / f, follow_symlinks=False)
    return kept


def recover_folder(folder: Path) -> str | None:
    """Undo what a kill between the two renames of :func:`staged_folder` left: the old
    folder put back if the new one is missing; a stale partial folder removed. Looks
    beside ``folder`` and, when it is a link to a folder, beside the link's target (where
    :func:`staged_folder` writes). Returns a sentence saying what was done, or ``None``."""
    folder = Path(folder)
    said = None
    for place in dict.fromkeys((folder, _through_link(folder))):
        tmp, old = partial_path(place), replaced_path(place)
        if _present(old):
            if _present(place):
                _remove(old)
            else:
                old.rename(place)
                said = said or f"{place}: put back the previous version (a write was interrupted)"
        if _present(tmp):
            _remove(tmp)
            said = said or f"{tmp}: removed the remains of an interrupted write"
    return said


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_files(paths: list[Path]) -> str:
    """One digest over several files (names and bytes, in the given order)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(bytes.fromhex(sha256_file(p)))
    return h.hexdigest()


def to_jsonable(value: Any) -> Any:
    """Numbers, arrays, paths and dataclass-like configs as plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):
        return {k: to_jsonable(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    atomic_write(path, (json.dumps(to_jsonable(data), indent=2, sort_keys=True) + "\n").encode())


def write_timing(folder: Path, timing: Mapping[str, float]) -> None:
    """``timing.json``: how long a stage took on this machine (frames/s, seconds). Not
    hashed and never read as an input, so a re-run on the same inputs leaves every
    artifact's hashed bytes the same."""
    write_json(Path(folder) / TIMING_FILE, {k: float(v) for k, v in timing.items()})
    note_written(folder, TIMING_FILE)


def read_timing(folder: Path) -> dict[str, float]:
    """``timing.json`` of an artifact folder; empty if it has none."""
    path = Path(folder) / TIMING_FILE
    try:
        return {k: float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def read_json(path: Path, producer: str) -> dict[str, Any]:
    if not path.is_file():
        raise ArtifactError(path, "file is missing", f"re-run `{producer}`")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ArtifactError(path, f"is not valid JSON ({e})", f"re-run `{producer}`") from e
    if not isinstance(data, dict):
        raise ArtifactError(path, "must hold a JSON object", f"re-run `{producer}`")
    return data


def read_json_or_none(path: Path) -> Any:
    """A JSON file's content, or None when it is missing or unreadable: for readers that
    show what there is (the report, ``machine.json``) rather than refuse."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def save_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write an ``.npz`` byte-for-byte reproducibly (fixed zip timestamps, sorted keys),
    atomically."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.save(buf, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())
    atomic_write(path, out.getvalue())


def load_npz(path: Path, keys: Mapping[str, tuple], producer: str) -> dict[str, np.ndarray]:
    """Read an ``.npz`` and check that each key exists with the expected shape.

    ``keys`` maps a key to a shape pattern: ints are exact, ``None`` is any size, and a
    string names a size that must agree across keys (e.g. ``"N"``).
    """
    if not path.is_file():
        raise ArtifactError(path, "file is missing", f"re-run `{producer}`")
    try:
        with np.load(path, allow_pickle=False) as data:
            out = {k: data[k] for k in data.files}
    except Exception as e:
        raise ArtifactError(path, f"cannot be read as .npz ({e})", f"re-run `{producer}`") from e
    sizes: dict[str, int] = {}
    for key, pattern in keys.items():
        if key not in out:
            raise ArtifactError(
                path, f"has no key {key!r} (keys: {sorted(out)})", f"re-run `{producer}`"
            )
        arr = out[key]
        if len(pattern) != arr.ndim or any(
            isinstance(p, int) and p != s for p, s in zip(pattern, arr.shape, strict=False)
        ):
            raise ArtifactError(
                path,
                f"key {key!r} has shape {arr.shape}, expected {_fmt_shape(pattern)}",
                f"re-run `{producer}`",
            )
        for p, s in zip(pattern, arr.shape, strict=True):
            if isinstance(p, str) and sizes.setdefault(p, s) != s:
                raise ArtifactError(
                    path,
                    f"key {key!r} has {p}={s} but another key has {p}={sizes[p]}",
                    f"re-run `{producer}`",
                )
    return out


def _fmt_shape(pattern: tuple) -> str:
    return "(" + ", ".join("?" if p is None else str(p) for p in pattern) + ")"


def require_finite(path: Path, name: str, arr: np.ndarray, producer: str) -> None:
    """Fail with the first non-finite index of ``arr``."""
    bad = ~np.isfinite(np.asarray(arr, dtype=np.float64))
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ArtifactError(
            path,
            f"{name} has NaN or infinite values ({int(bad.sum())} entries, first at {idx})",
            f"re-run `{producer}`; frames that cannot be estimated must be flagged invalid",
        )


def require_rotations(path: Path, name: str, T: np.ndarray, producer: str) -> None:
    """Fail unless every ``T[..., :3, :3]`` is a rotation and the last row is [0 0 0 1]."""
    from h2s2r.core.geometry import is_rotation_matrix

    T = np.asarray(T, dtype=np.float64)
    ok = is_rotation_matrix(T[..., :3, :3], tol=1e-3)
    ok &= np.all(np.abs(T[..., 3, :] - np.array([0, 0, 0, 1.0])) < 1e-6, axis=-1)
    if not np.all(ok):
        first = tuple(int(i) for i in np.argwhere(~np.atleast_1d(ok))[0])
        raise ArtifactError(
            path,
            f"{name} holds a matrix that is not a rigid transform (first at index {first})",
            f"re-run `{producer}`; poses must be 4×4 with an orthonormal rotation",
        )


@dataclass(frozen=True)
class Provenance:
    """Where an artifact came from: the stage's config and the upstream files it read."""

    config: Mapping[str, Any] = field(default_factory=dict)
    upstream: Mapping[str, str] = field(default_factory=dict)
    h2s2r_version: str = __version__

    @staticmethod
    def of_files(workspace: Path, files: list[Path], config: Any = None) -> Provenance:
        """Provenance hashing ``files`` (recorded relative to ``workspace``)."""
        ups = {}
        for f in files:
            f = Path(f)
            try:
                rel = str(f.resolve().relative_to(Path(workspace).resolve()))
            except ValueError:
                rel = str(f.resolve())
            ups[rel] = sha256_file(f)
        return Provenance(config=to_jsonable(config or {}), upstream=ups)


class ArtifactBase:
    """Mixin for artifact dataclasses: schema constants and meta.json round trip.

    Subclasses set ``SCHEMA``, ``VERSION``, ``FOLDER`` and ``PRODUCER`` (the command that
    writes the artifact, quoted in error messages).
    """

    SCHEMA: ClassVar[str]
    VERSION: ClassVar[int]
    # Older schema versions ``load`` still reads (it converts them).
    READS_VERSIONS: ClassVar[tuple[int, ...]] = ()
    FOLDER: ClassVar[str]
    PRODUCER: ClassVar[str]

    @classmethod
    def write_meta(
        cls,
        folder: Path,
        provenance: Provenance,
        files: list[str],
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Write ``meta.json`` hashing the payload ``files`` (names inside ``folder``)."""
        meta: dict[str, Any] = dict(extra or {})
        meta.update(
            schema={"name": cls.SCHEMA, "version": cls.VERSION},
            h2s2r_version=provenance.h2s2r_version,
            config=provenance.config,
            upstream=dict(provenance.upstream),
            files={f: sha256_file(folder / f) for f in sorted(files)},
        )
        write_json(folder / META_FILE, meta)

    @classmethod
    def read_meta(cls, folder: Path, check_files: bool = True) -> dict[str, Any]:
        """Read and check ``meta.json``: schema name and version, payload hashes, staleness."""
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise ArtifactError(
                folder,
                f"is a file, not the {cls.FOLDER}/ folder",
                f"move it away, then run `{cls.PRODUCER}` (it writes the folder)",
            )
        if not folder.is_dir():
            raise ArtifactError(folder, "folder does not exist", f"run `{cls.PRODUCER}` first")
        path = folder / META_FILE
        meta = read_json(path, cls.PRODUCER)
        schema = meta.get("schema")
        if not isinstance(schema, dict) or "name" not in schema or "version" not in schema:
            raise ArtifactError(
                path, "has no schema {name, version}", f"re-run `{cls.PRODUCER}` to rewrite it"
            )
        if schema["name"] != cls.SCHEMA:
            raise ArtifactError(
                path,
                f"holds a {schema['name']!r} artifact, not {cls.SCHEMA!r}",
                f"point to the {cls.FOLDER}/ folder of a demo workspace",
            )
        version = int(schema["version"])
        if version > cls.VERSION:
            raise ArtifactError(
                path,
                f"schema version {version} is newer than this h2s2r reads ({cls.VERSION})",
                "upgrade h2s2r",
            )
        if version < cls.VERSION and version not in cls.READS_VERSIONS:
            raise ArtifactError(
                path,
                f"schema version {version} is older than this h2s2r reads ({cls.VERSION})",
                f"re-run `{cls.PRODUCER}`",
            )
        if check_files:
            for name, digest in (meta.get("files") or {}).items():
                f = folder / name
                if not f.is_file():
                    raise ArtifactError(f, "is listed in meta.json but missing", cls._rerun())
                if sha256_file(f) != digest:
                    raise ArtifactError(
                        f,
                        "changed after it was written (sha256 differs from meta.json)",
                        cls._rerun(),
                    )
        cls._check_upstream(folder, meta)
        return meta

    @classmethod
    def _rerun(cls) -> str:
        return f"re-run `{cls.PRODUCER}`"

    @classmethod
    def _check_upstream(cls, folder: Path, meta: Mapping[str, Any]) -> None:
        """Stale check: an upstream file that still exists must still have the same hash."""
        workspace = folder.parent
        for rel, digest in (meta.get("upstream") or {}).items():
            f = Path(rel) if Path(rel).is_absolute() else workspace / rel
            if f.is_file() and sha256_file(f) != digest:
                raise ArtifactError(
                    folder / META_FILE,
                    f"is stale: upstream {rel} changed after {cls.FOLDER}/ was made",
                    cls._rerun(),
                )


def require_pose_in_metres(T: np.ndarray, where: str | Path) -> np.ndarray:
    """A 4×4 rigid transform whose translation is plausibly in metres, else a one-line
    error saying what is wrong with it (shape, last row, scale, reflection, shear) and how
    to write it instead."""
    from h2s2r.core.errors import H2S2RError
    from h2s2r.core.geometry import is_rotation_matrix

    fix = (
        "re-export it as a rigid 4×4 in metres: rotation part orthonormal (no scale, no "
        "mirroring, det +1), translation in the last column, last row 0 0 0 1"
    )
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (4, 4):
        raise H2S2RError(f"{where}: expected a 4×4 transform, got shape {T.shape}; {fix}")
    if not np.all(np.isfinite(T)):
        raise H2S2RError(f"{where}: the transform holds NaN or infinite values; {fix}")
    if not np.allclose(T[3], [0, 0, 0, 1]):
        row = " ".join(f"{v:g}" for v in T[3])
        hint = (
            " (translation in the last row: transposed? write the transpose)"
            if np.allclose(T[:3, 3], 0) and np.allclose(T[3, 3], 1)
            else ""
        )
        raise H2S2RError(
            f"{where}: not a rigid transform: last row is {row}, not 0 0 0 1{hint}; {fix}"
        )
    R = T[:3, :3]
    if not is_rotation_matrix(R, tol=1e-3):
        sv = np.linalg.svd(R, compute_uv=False)
        det = float(np.linalg.det(R))
        if det < 0:
            what = f"a reflection (det {det:.3g}: a left-handed frame)"
        elif np.allclose(sv, sv.mean(), rtol=1e-3):
            what = f"scaled ×{sv.mean():.4g} (det {det:.3g})"
        else:
            what = f"not orthonormal (singular values {', '.join(f'{v:.4g}' for v in sv)})"
        raise H2S2RError(f"{where}: not a rigid transform: the rotation part is {what}; {fix}")
    if np.linalg.norm(T[:3, 3]) > 10:
        raise H2S2RError(
            f"{where}: translation {np.linalg.norm(T[:3, 3]):.0f} looks like "
            "millimetres; poses must be in metres (divide the translation by 1000)"
        )
    return T
