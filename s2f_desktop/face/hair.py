"""A procedural, neutral hair style fitted to an anny head (illustrative only).

A bald, untextured head reads as male to face models and to people, so every
composite wears a plain hair style appropriate to the depicted sex: short for a
male composite, shoulder-length for a female one. The hair is a single sheet built
in cylindrical coordinates around the head's vertical axis: for each azimuth and
height the sheet sits a few millimetres outside the furthest skin vertex (so skin
never pokes through), and long hair hangs straight down below its widest point.
Nothing here is evidence: the style is labelled illustrative wherever it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from s2f_desktop.face.anny_model import PART_SKIN, HeadMesh

#: Hair styles a composite can wear (name -> description for records and the GUI).
HAIR_STYLES = {
    "short": "short neutral cut, ears visible (illustrative)",
    "shoulder": "shoulder-length neutral cut, ears covered (illustrative)",
    "none": "no hair (bald head; reads as male to most viewers)",
}

_N_THETA = 144  # azimuth samples around the head
_N_Z = 56  # samples from crown to hair end
_BINS_THETA, _BINS_Z = 72, 140


@dataclass(frozen=True)
class HairMesh:
    """Hair sheet vertices (metres), triangles and a per-vertex (azimuth, height) coordinate."""

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray


def _radial_profile(mesh: HeadMesh, axis_y: float, z_lo: float, z_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Max skin radius per (azimuth, height) bin, gaps filled, slightly dilated."""
    skin = mesh.vertices[mesh.parts == PART_SKIN]
    dx, dy = skin[:, 0], skin[:, 1] - axis_y
    theta = np.mod(np.arctan2(dx, -dy), 2 * np.pi)  # 0 = facing direction (-y)
    r = np.hypot(dx, dy)
    ti = np.clip((theta / (2 * np.pi) * _BINS_THETA).astype(np.int64), 0, _BINS_THETA - 1)
    zi = np.clip(((skin[:, 2] - z_lo) / (z_hi - z_lo) * _BINS_Z).astype(np.int64), -1, _BINS_Z)
    ok = (zi >= 0) & (zi < _BINS_Z)
    grid = np.zeros((_BINS_THETA, _BINS_Z))
    np.maximum.at(grid, (ti[ok], zi[ok]), r[ok])
    # Wrap-around max filter over neighbouring bins: the sheet must clear every vertex
    # near its sample point, not just those in the same bin.
    grid = ndimage.maximum_filter(grid, size=(5, 7), mode=("wrap", "nearest"))
    # Fill bins no vertex fell into (sparse mesh areas) from the nearest filled bin
    # of the same column.
    for i in range(_BINS_THETA):
        col = grid[i]
        filled = np.nonzero(col > 0)[0]
        if len(filled) == 0:
            continue
        grid[i] = np.interp(np.arange(_BINS_Z), filled, col[filled])
    grid = ndimage.gaussian_filter(grid, sigma=(1.0, 2.5), mode=("wrap", "nearest"))
    zs = z_lo + (np.arange(_BINS_Z) + 0.5) / _BINS_Z * (z_hi - z_lo)
    return grid, zs


def build_hair(mesh: HeadMesh, style: str) -> HairMesh | None:
    """The hair sheet for ``style`` on ``mesh`` (None for ``"none"``)."""
    if style not in HAIR_STYLES:
        raise ValueError(f"unknown hair style {style!r}")
    if style == "none":
        return None
    v = mesh.vertices
    skin = v[mesh.parts == PART_SKIN]
    eye_z = float(mesh.eye_centres[:, 2].mean())
    eye_y = float(mesh.eye_centres[:, 1].mean())
    z_top = float(skin[:, 2].max())
    head_h = z_top - eye_z  # eye line to crown (~12 cm in adults)
    # Vertical axis through the middle of the cranium (above the eyes).
    upper = skin[skin[:, 2] > eye_z + 0.2 * head_h]
    axis_y = 0.5 * (float(upper[:, 1].min()) + float(upper[:, 1].max()))
    long = style == "shoulder"
    chin_z = eye_z - 1.05 * head_h
    z_end_long = chin_z - 0.45 * head_h
    z_lo = min(z_end_long, float(skin[:, 2].min())) - 0.01
    grid, zs = _radial_profile(mesh, axis_y, z_lo, z_top + 0.005)

    thickness_top = 0.016 if long else 0.009
    thickness_side = 0.012 if long else 0.006

    theta = np.linspace(0.0, 2 * np.pi, _N_THETA, endpoint=False)
    # Angular distance from the face direction, 0 (front) .. pi (back).
    a = np.minimum(theta, 2 * np.pi - theta)
    brow_line = eye_z + 0.40 * head_h  # frontal hairline above the brows
    if long:
        # Face opening: hairline at the forehead in front, hair falling to the
        # shoulders from about 60 degrees round to the back.
        t = np.clip((a - np.radians(44)) / np.radians(20), 0.0, 1.0)
        t = t * t * (3 - 2 * t)
        z_line = brow_line * (1 - t) + z_end_long * t
    else:
        # Short cut: forehead hairline, above the ears at the sides (sideburns at
        # eye level just in front of the ears), nape at the back.
        ear_top = eye_z + 0.12 * head_h
        nape = eye_z - 0.55 * head_h
        t1 = np.clip((a - np.radians(40)) / np.radians(25), 0.0, 1.0)
        t1 = t1 * t1 * (3 - 2 * t1)
        z_line = brow_line * (1 - t1) + (eye_z - 0.05 * head_h) * t1
        side = np.exp(-0.5 * ((a - np.radians(95)) / np.radians(22)) ** 2)
        z_line = np.maximum(z_line, ear_top * side + z_line * (1 - side))
        t2 = np.clip((a - np.radians(120)) / np.radians(40), 0.0, 1.0)
        t2 = t2 * t2 * (3 - 2 * t2)
        z_line = z_line * (1 - t2) + nape * t2

    # Per column: heights from the crown down to that column's hairline.
    s = np.linspace(0.0, 1.0, _N_Z)
    z_top_hair = z_top + thickness_top
    Z = z_top_hair + (z_line[:, None] - z_top_hair) * s[None, :]  # (T, S)
    # Radius of skin at these heights (bilinear in the profile grid).
    tb = theta / (2 * np.pi) * grid.shape[0] - 0.5
    zb = (Z - zs[0]) / (zs[1] - zs[0])
    R = ndimage.map_coordinates(np.concatenate([grid, grid[:1]], axis=0),
                                [np.repeat(np.mod(tb, grid.shape[0])[:, None], _N_Z, 1), zb],
                                order=1, mode="nearest")
    if long:
        # Below its widest point long hair hangs: radius never shrinks going down,
        # widening slightly towards the ends.
        R = np.maximum.accumulate(R, axis=1)
        below = np.clip((eye_z - Z) / (eye_z - z_end_long), 0.0, 1.0)
        R = R + 0.012 * below ** 1.5
    thick = thickness_side + (thickness_top - thickness_side) * np.clip((Z - eye_z) / head_h, 0, 1)
    R = R + thick
    # Close the crown: the first row collapses towards the axis smoothly.
    R[:, 0] *= 0.0
    X = R * np.sin(theta)[:, None]
    Y = axis_y - R * np.cos(theta)[:, None]
    verts = np.stack([X, Y, Z], axis=-1).reshape(-1, 3)
    del eye_y

    idx = np.arange(_N_THETA * _N_Z).reshape(_N_THETA, _N_Z)
    nxt = np.roll(idx, -1, axis=0)
    a0, a1 = idx[:, :-1], idx[:, 1:]
    b0, b1 = nxt[:, :-1], nxt[:, 1:]
    tris = np.concatenate([np.stack([a0, b0, a1], -1).reshape(-1, 3), np.stack([a1, b0, b1], -1).reshape(-1, 3)])
    uv = np.stack([np.repeat(theta[:, None], _N_Z, 1), Z], axis=-1).reshape(-1, 2)
    return HairMesh(verts, tris.astype(np.int64), uv)
