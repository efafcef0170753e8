"""The report's pictures, each from artifacts alone: PNG or JPEG bytes, or None when the
data for it is not there. Matplotlib for plots, Pillow for the frame strip."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from h2s2r.core.geometry import quat_angle_between

# MediaPipe's 21 hand landmarks: wrist 0; thumb 1–4, index 5–8, middle 9–12, ring 13–16,
# little 17–20 (each from the knuckle to the tip).
HAND_BONES = (
    *((0, 1), (1, 2), (2, 3), (3, 4)),
    *((0, 5), (5, 6), (6, 7), (7, 8)),
    *((5, 9), (9, 10), (10, 11), (11, 12)),
    *((9, 13), (13, 14), (14, 15), (15, 16)),
    *((13, 17), (0, 17), (17, 18), (18, 19), (19, 20)),
)
STRIP_FRAMES = 8
THUMB_W = 320
OUTLINE = (255, 140, 0)
BONE, JOINT, MARK = (40, 220, 60), (255, 235, 0), (230, 30, 30)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    _plt().close(fig)
    return buf.getvalue()


def strip_indices(n: int, start: int | None, k: int = STRIP_FRAMES) -> list[int]:
    """``k`` frames spread over ``n``, the start-of-manipulation frame among them."""
    idx = sorted({round(float(x)) for x in np.linspace(0, n - 1, min(k, n))})
    if start is not None and 0 <= start < n and start not in idx:
        nearest = min(range(len(idx)), key=lambda i: abs(idx[i] - start))
        idx[nearest] = start
    return sorted(set(idx))


def silhouette(
    vertices: np.ndarray, faces: np.ndarray, T_cam_obj: np.ndarray, K: np.ndarray, size
) -> np.ndarray:
    """The posed mesh's silhouette: a (h, w) bool mask, every triangle in front of the
    camera filled."""
    w, h = size
    P = vertices @ T_cam_obj[:3, :3].T + T_cam_obj[:3, 3]
    z = P[:, 2]
    uv = (P[:, :2] / np.maximum(z, 1e-6)[:, None]) * [K[0, 0], K[1, 1]] + [K[0, 2], K[1, 2]]
    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    front = (z[faces] > 1e-3).all(axis=1)
    for tri in uv[faces[front]]:
        draw.polygon([tuple(p) for p in tri], fill=1)
    return np.asarray(img, dtype=bool)


def _thumb(rgb: np.ndarray, outline: np.ndarray | None, px: np.ndarray | None) -> Image.Image:
    scale = THUMB_W / rgb.shape[1]
    size = (THUMB_W, round(rgb.shape[0] * scale))
    img = Image.fromarray(rgb[..., :3]).resize(size, Image.BILINEAR)
    arr = np.asarray(img).copy()
    if outline is not None:
        small = np.asarray(Image.fromarray(outline.astype(np.uint8) * 255).resize(size)) > 127
        edge = small & ~ndimage.binary_erosion(small, iterations=2)
        arr[edge] = OUTLINE
    img = Image.fromarray(arr)
    if px is not None and np.isfinite(px).all():
        d = ImageDraw.Draw(img)
        p = px * scale
        for a, b in HAND_BONES:
            d.line([tuple(p[a]), tuple(p[b])], fill=BONE, width=2)
        for u, v in p:
            d.ellipse([u - 2, v - 2, u + 2, v + 2], fill=JOINT)
    return img


def demo_strip(cap, track, hand, mesh, start: int | None) -> bytes | None:
    """A grid of demo frames: the tracked object's outline (orange), the hand's keypoints
    (green bones), the start-of-manipulation frame framed in red. JPEG."""
    if cap is None or cap.num_frames == 0:
        return None
    K = np.loadtxt(cap.root / "cam_K.txt") if (cap.root / "cam_K.txt").is_file() else None
    tiles = []
    for i in strip_indices(cap.num_frames, start):
        rgb = cap.read_rgb(i)
        outline = px = None
        if track is not None and mesh is not None and K is not None and track.valid[i]:
            outline = silhouette(
                mesh.vertices, mesh.faces, track.T_cam_obj[i], K, (rgb.shape[1], rgb.shape[0])
            )
        if hand is not None and hand.valid[i]:
            px = hand.keypoints_px[i]
        img = _thumb(rgb, outline, px)
        d = ImageDraw.Draw(img)
        label = f"frame {i}"
        if i == start:
            label += ": start of manipulation"
            d.rectangle([0, 0, img.width - 1, img.height - 1], outline=MARK, width=5)
        d.rectangle([0, 0, 8 + 6 * len(label), 16], fill=(0, 0, 0))
        d.text((4, 3), label, fill=(255, 255, 255))
        tiles.append(img)
    cols = 4
    rows = -(-len(tiles) // cols)
    tw, th = tiles[0].size
    sheet = Image.new("RGB", (cols * tw + (cols - 1) * 4, rows * th + (rows - 1) * 4), "white")
    for k, t in enumerate(tiles):
        sheet.paste(t, ((k % cols) * (tw + 4), (k // cols) * (th + 4)))
    buf = io.BytesIO()
    sheet.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def trajectory(task, runs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> bytes | None:
    """Object position (x, y, z) and rotation from the start over time: the demo, and each
    of ``runs`` (``{name: (t, pos, quat_wxyz)}``: the simulated rollout, the deploy loop)."""
    if task is None:
        return None
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
    curves = {"demo": (task.t - task.t[0], task.object_pos_base, task.object_quat_wxyz_base)}
    curves |= runs
    styles = {"demo": "--", "simulation (eval)": "-", "deploy loop": ":"}
    q0 = task.object_quat_wxyz_base[0]
    for name, (t, pos, quat) in curves.items():
        ls = styles.get(name, "-")
        for k, c in enumerate("xyz"):
            ax[0].plot(t, pos[:, k], f"C{k}{ls}", lw=1.4, label=f"{name} {c}")
        ang = np.degrees(quat_angle_between(quat, np.broadcast_to(q0, quat.shape)))
        ax[1].plot(t, ang, ls, lw=1.4, label=name)
    ax[0].set(xlabel="time (s)", ylabel="object position (m, robot base)")
    ax[1].set(xlabel="time (s)", ylabel="rotation from the demo's start (°)")
    ax[0].legend(fontsize=7, ncol=3)
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def learning(validation: list[dict], progress: list[dict]) -> bytes | None:
    """Validation success and the reward terms (mean per step) over wall-clock minutes."""
    if not validation and not progress:
        return None
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.8))
    if validation:
        t = [r["wall_time_s"] / 60 for r in validation]
        ax[0].plot(t, [100 * r["success"] for r in validation], "C0-o", ms=3)
    ax[0].set(xlabel="wall clock (min)", ylabel="validation success (%)", ylim=(-2, 102))
    if progress:
        t = np.array([r["wall_time_s"] / 60 for r in progress])
        names = sorted({k for r in progress for k in r.get("terms", {})} - {"episode_return"})
        for k, name in enumerate(names):
            v = [r["terms"].get(name, np.nan) for r in progress]
            ax[1].plot(t, v, color=f"C{k % 10}", lw=1.2, label=name)
        ax[1].legend(fontsize=7, ncol=2)
    ax[1].set(xlabel="wall clock (min)", ylabel="reward term (mean per step)")
    fig.tight_layout()
    return _png(fig)


def deploy_timing(policy_t: np.ndarray, command_t: np.ndarray, dt: float) -> bytes | None:
    """Histograms of the deploy loop's policy and command periods."""
    if len(policy_t) < 2 and len(command_t) < 2:
        return None
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.2))
    for a, t, name, nominal in (
        (ax[0], policy_t, "policy period (ms)", dt),
        (ax[1], command_t, "command period (ms)", None),
    ):
        p = np.diff(t) * 1e3
        if len(p):
            a.hist(p, bins=40, color="C0")
            a.axvline((nominal * 1e3) if nominal else float(np.median(p)), color="k", lw=1)
        a.set(xlabel=name, ylabel="ticks")
    fig.tight_layout()
    return _png(fig)


__all__ = ["HAND_BONES", "demo_strip", "deploy_timing", "learning", "silhouette", "trajectory"]
