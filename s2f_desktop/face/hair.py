"""A procedural, neutral hair style fitted to an anny head (illustrative only).

A bald, untextured head reads as male to face models and to people, so every
composite wears a plain hair style typical for the depicted sex: a short tapered cut
for a male composite, a shoulder-length layered cut with a centre parting that frames
the face for a female one. Nothing here is evidence: the style is labelled
illustrative wherever it is shown.

Geometry. The hair is one two-sided sheet with rows running from the crown to the
hair ends and columns around the head (azimuth ``theta``, 0 = the face direction):

* the cap follows the skull in *spherical* coordinates about the centre of the
  cranium (the sheet sits a few millimetres to ~2 cm outside the furthest skin in each
  direction), so the crown is a smooth dome with no seam or spike;
* long hair continues below the cap in *cylindrical* coordinates: it hangs down,
  never closer to the axis than any skin above it (so it falls over the ears and
  past the cheeks instead of through them), flares slightly and curls inwards over
  its last few centimetres so the ends look rounded rather than cut;
* the sheet thins to a few millimetres at every hairline so it meets the skin softly.

Illustrative age defaults (recorded in the parameters): hair greys with age, and a
male composite's frontal hairline recedes with age (temples first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from s2f_desktop.face.anny_model import PART_SKIN, HeadMesh

#: Hair styles a composite can wear (name -> description for records and the GUI).
HAIR_STYLES = {
    "short": "short tapered cut, ears visible (illustrative)",
    "shoulder": "shoulder-length layered cut, centre parting, framing the face (illustrative)",
    "none": "no hair (bald head; reads as male to most viewers)",
}

_N_THETA = 120  # columns around the head
_N_CAP = 22  # rows from the crown to the hairline / start of the hanging part
_N_HANG = 26  # rows of the hanging part (long hair)
_BINS_THETA, _BINS_Z = 72, 120


@dataclass(frozen=True)
class HairMesh:
    """Hair sheet vertices (metres), triangles and a per-vertex coordinate.

    ``uv`` holds (azimuth in radians, height in metres); strand shading runs along
    lines of constant azimuth, i.e. the direction the hair falls. ``edge`` is 0 where
    the hair is full and rises to 1 at a short cut's hairline, where the hair thins
    out and the skin shows through (the renderer blends towards the skin colour
    there, strand by strand), so the hairline is soft rather than a painted cap's
    hard edge.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray
    edge: np.ndarray


def _smooth01(x: np.ndarray | float) -> np.ndarray:
    t = np.clip(x, 0.0, 1.0)
    out: np.ndarray = t * t * (3 - 2 * t)
    return out


def _cylinder_profile(skin: np.ndarray, axis_y: float, z_lo: float, z_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Max skin distance from the vertical axis per (azimuth, height) bin, gaps filled, smoothed."""
    dx, dy = skin[:, 0], skin[:, 1] - axis_y
    theta = np.mod(np.arctan2(dx, -dy), 2 * np.pi)
    r = np.hypot(dx, dy)
    ti = np.clip((theta / (2 * np.pi) * _BINS_THETA).astype(np.int64), 0, _BINS_THETA - 1)
    zi = ((skin[:, 2] - z_lo) / (z_hi - z_lo) * _BINS_Z).astype(np.int64)
    ok = (zi >= 0) & (zi < _BINS_Z)
    grid = np.zeros((_BINS_THETA, _BINS_Z))
    np.maximum.at(grid, (ti[ok], zi[ok]), r[ok])
    grid = ndimage.maximum_filter(grid, size=(5, 5), mode=("wrap", "nearest"))
    zs = np.arange(_BINS_Z)
    for i in range(_BINS_THETA):
        filled = np.nonzero(grid[i] > 0)[0]
        if len(filled):
            grid[i] = np.interp(zs, filled, grid[i][filled])
    grid = ndimage.gaussian_filter(grid, sigma=(1.0, 1.5), mode=("wrap", "nearest"))
    return grid, z_lo + (zs + 0.5) / _BINS_Z * (z_hi - z_lo)


def _cap_radius(skin: np.ndarray, centre: np.ndarray, dirs: np.ndarray, cone_deg: float = 9.0) -> np.ndarray:
    """Per direction, how far from ``centre`` the skin reaches within a narrow cone.

    A conservative envelope of the skull: the sheet placed just outside it never lets
    skin poke through, and neighbouring directions share vertices so it is smooth.
    """
    rel = (skin - centre).astype(np.float32)
    dist = np.linalg.norm(rel, axis=1)
    unit = rel / np.maximum(dist[:, None], 1e-9)
    cos = dirs.astype(np.float32) @ unit.T  # (D, V)
    proj = np.where(cos > np.cos(np.radians(cone_deg)), dist[None, :] * cos, 0.0)
    r = proj.max(axis=1)
    return np.where(r > 0, r, np.nan)


def _beside_the_face(pts: np.ndarray, skin: np.ndarray, mesh: HeadMesh, eye_z: float) -> np.ndarray:
    """Keep hair below the upper forehead from hanging in front of the face.

    Hair that frames the face lies along its sides: below the upper forehead no hair
    point is further forward than just behind the eyes, and a point moved back is
    moved out just past the side of the head there. The profile view therefore
    still shows the forehead, nose, mouth and chin.
    """
    y_lim = float(mesh.eye_centres[:, 1].mean()) + 0.012
    near = skin[(skin[:, 1] > y_lim - 0.012) & (skin[:, 1] < y_lim + 0.025)]
    zb = np.linspace(float(skin[:, 2].min()), float(skin[:, 2].max()), 60)
    idx = np.clip(np.searchsorted(zb, near[:, 2]), 0, len(zb) - 1)
    half_w = np.zeros(len(zb))
    np.maximum.at(half_w, idx, np.abs(near[:, 0]))
    half_w = ndimage.maximum_filter1d(half_w, 5)
    x, y, z = pts[..., 0], pts[..., 1], pts[..., 2]
    w = _smooth01((eye_z + 0.05 - z) / 0.03)
    y_new = y + (np.maximum(y, y_lim) - y) * w
    moved = y_new > y + 1e-9
    side = np.interp(z, zb, half_w) + 0.008
    x_new = np.where(moved, np.sign(x) * np.maximum(np.abs(x), side * w + np.abs(x) * (1 - w)), x)
    return np.stack([x_new, y_new, z], axis=-1)


def build_hair(mesh: HeadMesh, style: str, recede: float = 0.0) -> HairMesh | None:
    """The hair sheet for ``style`` on ``mesh`` (None for ``"none"``).

    ``recede`` in [0, 1] moves a short cut's frontal hairline back (temples first);
    it is an illustrative age default for male composites.
    """
    if style not in HAIR_STYLES:
        raise ValueError(f"unknown hair style {style!r}")
    if style == "none":
        return None
    long = style == "shoulder"
    recede = float(np.clip(recede, 0.0, 1.0))
    v = mesh.vertices
    skin = v[mesh.parts == PART_SKIN]
    eye_z = float(mesh.eye_centres[:, 2].mean())
    z_top = float(skin[:, 2].max())
    head_h = z_top - eye_z  # eye line to crown (~12 cm in adults)
    upper = skin[skin[:, 2] > eye_z + 0.2 * head_h]
    axis_y = 0.5 * (float(upper[:, 1].min()) + float(upper[:, 1].max()))
    centre = np.array([0.0, axis_y, eye_z + 0.05 * head_h])

    theta = np.linspace(0.0, 2 * np.pi, _N_THETA, endpoint=False)
    a = np.minimum(theta, 2 * np.pi - theta)  # 0 front .. pi back
    ad = np.degrees(a)

    # ---- hairline: polar angle (from straight up) where the cap ends, per column.
    # Front hairline ~ 38 deg from the vertical through the cranium centre (about
    # 6 cm above the brows), lower at the temples/sides, lowest at the nape.
    if long:
        # Centre parting: the hairline at the front is the forehead line; from the
        # temples round to the back the cap ends near ear-top level and the hanging
        # part takes over.
        psi_front = 40.0
        psi_line = psi_front + (95.0 - psi_front) * _smooth01((ad - 10.0) / 36.0)
    else:
        psi_front = 40.0 - 14.0 * recede
        temple = 6.0 + 16.0 * recede  # temple recession (M shape) grows with recede
        psi_line = psi_front + 8.0 * _smooth01((ad - 10.0) / 20.0) - temple * np.exp(-0.5 * ((ad - 32.0) / 9.0) ** 2)
        psi_line = psi_line + (88.0 - psi_line) * _smooth01((ad - 45.0) / 30.0)  # sideburn above the ear front
        ear = np.exp(-0.5 * ((ad - 95.0) / 16.0) ** 2)
        psi_line = psi_line - 10.0 * ear  # clear the ear
        psi_line = psi_line + (118.0 - psi_line) * _smooth01((ad - 125.0) / 40.0)  # tapered nape
    psi_line = np.radians(psi_line)

    # ---- cap rows in spherical coordinates.
    s = np.linspace(0.0, 1.0, _N_CAP)
    psi = psi_line[:, None] * s[None, :]  # (T, S)
    dirs = np.stack([np.sin(psi) * np.sin(theta)[:, None], -np.sin(psi) * np.cos(theta)[:, None],
                     np.cos(psi)], axis=-1).reshape(-1, 3)
    # Only skin the cap can reach (the face below the brows never matters) keeps the
    # direction x vertex comparison small.
    cranium = skin[(skin[:, 2] > eye_z - 0.45 * head_h) | (skin[:, 1] > axis_y)]
    r = _cap_radius(cranium, centre, dirs).reshape(_N_THETA, _N_CAP)
    # Fill directions with no skin in their cone from the row above (only near the
    # crown can that happen) and smooth along both directions.
    for j in range(_N_CAP):
        col = r[:, j]
        if np.isnan(col).all():
            r[:, j] = r[:, j - 1] if j else np.nanmax(r)
        elif np.isnan(col).any():
            ok = ~np.isnan(col)
            r[:, j] = np.interp(theta, theta[ok], col[ok], period=2 * np.pi)
    r = ndimage.gaussian_filter(r, sigma=(1.2, 0.8), mode=("wrap", "nearest"))
    r[:, 0] = r[:, 0].mean()  # every column meets at the same crown point
    if long:
        thick_top, thick_edge = 0.020, 0.004
        # Centre parting: the two halves rise slightly either side of the part.
        part = np.exp(-0.5 * (np.sin(theta) / 0.05) ** 2) * (np.cos(theta) > 0)
        thick = thick_top * (1 - 0.35 * part)[:, None] * np.ones_like(s)[None, :]
        front = _smooth01((45.0 - ad) / 25.0)[:, None]  # only the forehead edge thins out
        thick = thick * (1 - front * _smooth01((s[None, :] - 0.7) / 0.3) * (1 - thick_edge / thick_top))
    else:
        thick_top, thick_edge = 0.011, 0.0015
        thick = thick_edge + (thick_top - thick_edge) * (1 - _smooth01((s - 0.45) / 0.55))[None, :]
        thick = thick * (1 - 0.25 * _smooth01((ad - 60.0) / 60.0))[:, None]  # tapered sides and back
    rr = r + thick
    if long:
        edge_cap = np.zeros_like(rr)
    else:
        # Hairline fade of a short cut: the last 6 mm (front) to 14 mm (tapered sides
        # and nape) of hair before the hairline, measured along the scalp.
        to_line = (psi_line[:, None] - psi) * rr
        width = 0.006 + 0.008 * _smooth01((ad - 45.0) / 60.0)
        edge_cap = 1.0 - _smooth01(to_line / width[:, None])
    cap = centre[None, None, :] + rr[..., None] * dirs.reshape(_N_THETA, _N_CAP, 3)
    rows = [cap]

    if long:
        # ---- hanging part: from the end of the cap straight down to the ends.
        chin_z = eye_z - 1.05 * head_h
        z_lo = chin_z - 0.75 * head_h
        grid, zs = _cylinder_profile(skin, axis_y, z_lo, z_top)
        start = cap[:, -1, :]
        z0 = start[:, 2]
        # Ends: collarbone length at the back, a little shorter towards the face
        # (layered), with a gentle wave so the line is not ruler-straight.
        z_end = chin_z - (0.55 - 0.12 * _smooth01((90.0 - ad) / 60.0)) * head_h
        z_end = z_end + 0.006 * np.sin(3 * theta + 0.7)
        # Columns facing the face (|azimuth| < ~40 deg) have no hanging part: the
        # cap already ends at the forehead hairline there.
        hang = _smooth01((ad - 22.0) / 20.0)
        z_end = z0 + (z_end - z0) * hang
        u = np.linspace(0.0, 1.0, _N_HANG + 1)[1:]
        Z = z0[:, None] + (z_end - z0)[:, None] * u[None, :]
        tb = np.repeat((np.mod(theta / (2 * np.pi) * _BINS_THETA - 0.5, _BINS_THETA))[:, None], _N_HANG, 1)
        zb = (Z - zs[0]) / (zs[1] - zs[0])
        wrap = np.concatenate([grid, grid[:1]], axis=0)
        R_skin = ndimage.map_coordinates(wrap, [tb, zb], order=1, mode="nearest")
        r_start = np.hypot(start[:, 0], start[:, 1] - axis_y)
        # Never closer to the axis than the skin above (it falls over the ears) and
        # kept clear of it by the hair's thickness.
        R = np.maximum.accumulate(np.maximum(R_skin + 0.010, r_start[:, None] * np.ones_like(u)[None, :]), axis=1)
        R = np.maximum(R, r_start[:, None])
        flare = 0.014 * _smooth01(u / 0.8)[None, :] * (0.4 + 0.6 * _smooth01((ad - 40.0) / 50.0))[:, None]
        curl = 0.010 * (1 - np.sqrt(np.clip(1 - ((u - 0.82) / 0.18).clip(0, 1) ** 2, 0, 1)))[None, :]
        R = R + flare - curl
        # Front curtains sit slightly forward of the ears' plane so they frame the
        # cheeks; no change towards the back.
        X = R * np.sin(theta)[:, None]
        Y = axis_y - R * np.cos(theta)[:, None]
        hang_rows = np.stack([X, Y, Z], axis=-1)
        rows.append(hang_rows)

    grid_v = np.concatenate(rows, axis=1)  # (T, S_total, 3)
    if long:
        grid_v = _beside_the_face(grid_v, skin, mesh, eye_z)
    n_rows = grid_v.shape[1]
    verts = grid_v.reshape(-1, 3)
    idx = np.arange(_N_THETA * n_rows).reshape(_N_THETA, n_rows)
    nxt = np.roll(idx, -1, axis=0)
    a0, a1 = idx[:, :-1], idx[:, 1:]
    b0, b1 = nxt[:, :-1], nxt[:, 1:]
    tris = np.concatenate([np.stack([a0, b0, a1], -1).reshape(-1, 3), np.stack([a1, b0, b1], -1).reshape(-1, 3)])
    # Drop degenerate triangles of hanging columns that have zero length (front).
    p = verts[tris]
    area = np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1)
    tris = tris[area > 1e-10]
    uv = np.stack([np.repeat(theta[:, None], n_rows, 1), grid_v[..., 2]], axis=-1).reshape(-1, 2)
    edge = np.concatenate([edge_cap, np.zeros((_N_THETA, n_rows - _N_CAP))], axis=1).reshape(-1)
    return HairMesh(verts, tris.astype(np.int64), uv, edge)
