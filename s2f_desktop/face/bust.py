"""Neck, shoulders and a plain dark top under the anny head (illustrative only).

anny's head topology ends at the upper neck, and a floating head reads oddly to
people and to face models, which are trained on head-and-shoulders portraits. The
composite therefore stands on a simple procedural bust: the neck continues the
head's own neck cross-section, widens into sloping shoulders and ends at the upper
chest, dressed in a neutral dark crew-neck top.

Sex-typical population morphology (origin: the depicted sex, i.e. voice-derived):
adult male necks and shoulders are on average broader than adult female ones
(biacromial width ~40 cm vs ~36 cm). The exact widths, slope and the clothing are
illustrative and recorded as such.

The bust is a lofted surface: rows are heights, columns azimuths about a vertical
axis through the neck; each row's cross-section is a superellipse whose half-width
and half-depth follow a smooth neck-to-shoulder profile.

Joining the head. anny's head topology ends in one open edge loop round the lower
neck (sloping from under the chin to the nape). The bust is *stitched* to that loop:
a strip of triangles joins anny's own loop vertices to the bust's first row, and the
bust's upper neck rows start with the loop's shape and blend into the sex-typical
neck ellipse by the neck base. The join therefore shares vertices (no crack, no
intersection line) and the vertex normals there are averaged over both sides, so
the shading runs across it without a seam. (An earlier version pushed the bust's
neck up inside anny's and dropped the anny triangles found inside it: the two
surfaces intersected along a jagged line with different normals either side, a
visible light patch with a ragged edge in the three-quarter and profile views.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from s2f_desktop.face.anny_model import PART_SKIN, HeadMesh

_N_THETA = 96
_N_ROWS = 30
_N_NECK = 8  # rows from the head's neck loop down to the neck base


@dataclass(frozen=True)
class BustMesh:
    """Bust vertices (metres), triangles and a per-vertex cloth weight (0 skin .. 1 top).

    ``faces`` index the bust's own vertices. ``seam_faces`` is the strip joining the
    bust to the head: its indices run over the head's vertices followed by the
    bust's (``i < n_head``: head vertex ``i``; otherwise bust vertex ``i - n_head``),
    and each triangle's first corner is a bust vertex.
    """

    vertices: np.ndarray
    faces: np.ndarray
    cloth: np.ndarray
    neckline: tuple[float, float, float]  # (axis y, neckline height at the front, at the back)
    neck: tuple[float, float, float]  # neck ellipse: (centre y, half-width, half-depth)
    seam_faces: np.ndarray  # (S, 3) into head vertices + bust vertices (see above)
    n_head: int  # number of head vertices the seam indices assume


def _smooth01(x: np.ndarray) -> np.ndarray:
    t = np.clip(x, 0.0, 1.0)
    out: np.ndarray = t * t * (3 - 2 * t)
    return out


def neck_loop(mesh: HeadMesh) -> np.ndarray:
    """anny's open neck boundary: skin vertex indices in one closed loop, by rising azimuth.

    Azimuth is measured as in the bust: 0 towards the face (-y), positive towards +x.
    Raises ValueError if the head's skin boundary is not one simple loop.
    """
    f = mesh.faces
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    edges, counts = np.unique(e, axis=0, return_counts=True)
    edges = edges[(counts == 1) & np.all(mesh.parts[edges] == PART_SKIN, axis=1)]
    nbrs: dict[int, list[int]] = {}
    for a, b in edges.tolist():
        nbrs.setdefault(a, []).append(b)
        nbrs.setdefault(b, []).append(a)
    if not nbrs or any(len(n) != 2 for n in nbrs.values()):
        raise ValueError("the head mesh has no simple open neck loop")
    start = min(nbrs)
    loop, prev = [start], -1
    while True:
        nxt = nbrs[loop[-1]][0] if nbrs[loop[-1]][0] != prev else nbrs[loop[-1]][1]
        if nxt == start:
            break
        prev = loop[-1]
        loop.append(nxt)
    if len(loop) != len(nbrs):
        raise ValueError("the head mesh's skin boundary is more than one loop")
    loop_a = np.asarray(loop, dtype=np.int64)
    p = mesh.vertices[loop_a]
    centre = p.mean(axis=0)
    az = np.arctan2(p[:, 0] - centre[0], -(p[:, 1] - centre[1]))
    if np.sum(np.diff(np.unwrap(az))) < 0:  # walk it towards rising azimuth
        loop_a, az = loop_a[::-1], az[::-1]
    return np.roll(loop_a, -int(np.argmin(np.mod(az, 2 * np.pi))))


def _stitch(upper: np.ndarray, upper_t: np.ndarray, lower: np.ndarray, lower_t: np.ndarray) -> np.ndarray:
    """Triangles joining two closed rings (ring above, ring below), both by rising azimuth in [0, 2pi).

    A zipper: step along whichever ring's next point comes first in azimuth. Each
    triangle starts with a vertex of the lower ring and keeps the bust's winding.
    """
    nu, nl = len(upper), len(lower)
    tris = []
    i = k = 0
    while i < nu or k < nl:
        ti = upper_t[(i + 1) % nu] + (2 * np.pi if i + 1 >= nu else 0.0)
        tk = lower_t[(k + 1) % nl] + (2 * np.pi if k + 1 >= nl else 0.0)
        u0, u1, d0, d1 = upper[i % nu], upper[(i + 1) % nu], lower[k % nl], lower[(k + 1) % nl]
        if k >= nl or (i < nu and ti <= tk):
            tris.append((d0, u1, u0))
            i += 1
        else:
            tris.append((d0, d1, u0))
            k += 1
    return np.asarray(tris, dtype=np.int64)


def build_bust(mesh: HeadMesh, female: bool) -> BustMesh:
    """Neck, shoulders and upper chest fitted below ``mesh`` (sex-typical widths)."""
    v = mesh.vertices[mesh.parts == PART_SKIN]
    eye_z = float(mesh.eye_centres[:, 2].mean())
    z_top = float(v[:, 2].max())
    head_h = z_top - eye_z
    z_cut = float(v[:, 2].min())  # lowest point of anny's neck (front, under the chin)
    # Neck: sex-typical mean size (circumference ~39 cm male, ~33 cm female),
    # scaled with the head, its back flush with the back of anny's neck. It is
    # reached at the neck base; above it the neck runs into anny's own neck loop.
    scale = head_h / 0.12
    neck_rx = (0.052 if female else 0.061) * scale
    neck_ry = (0.049 if female else 0.057) * scale
    band = v[(v[:, 2] > z_cut + 0.03) & (v[:, 2] < z_cut + 0.07)]
    neck_y = float(band[:, 1].max()) - 0.97 * neck_ry
    shoulder_w = 0.178 if female else 0.200  # half biacromial width (m), sex-typical mean
    chest_d = 0.092 if female else 0.105  # half chest depth (m)
    neck_base = z_cut - 0.025 * scale
    shoulder_z = neck_base - 0.075 * scale  # where the shoulder line is reached (its top)
    z_bottom = eye_z - 3.3 * head_h  # well below the frame's lower edge
    loop = neck_loop(mesh)
    lp = mesh.vertices[loop]
    loop_t = np.mod(np.arctan2(lp[:, 0], -(lp[:, 1] - neck_y)), 2 * np.pi)
    loop_r = np.hypot(lp[:, 0], lp[:, 1] - neck_y)

    # How anny's neck surface runs into the loop: radius change per metre downwards,
    # from each loop vertex's neighbours one ring up. The bust continues that slope so
    # the join has no crease.
    ring = np.isin(mesh.faces, loop).any(axis=1)
    slope = np.zeros(len(loop))
    for i, vi in enumerate(loop):
        nb = np.setdiff1d(mesh.faces[ring & (mesh.faces == vi).any(axis=1)], loop)
        above = mesh.vertices[nb].mean(axis=0)
        dz = above[2] - lp[i, 2]
        slope[i] = (loop_r[i] - np.hypot(above[0], above[1] - neck_y)) / dz if dz > 1e-6 else 0.0
    slope = np.clip(slope, -0.5, 0.5)

    theta = np.linspace(0.0, 2 * np.pi, _N_THETA, endpoint=False)
    ct, st = np.cos(theta), np.sin(theta)
    # The loop's height, radius and slope at every bust column (periodic interpolation).
    z_loop = np.interp(theta, loop_t, lp[:, 2], period=2 * np.pi)
    r_loop = np.interp(theta, loop_t, loop_r, period=2 * np.pi)
    m_loop = np.interp(theta, loop_t, slope, period=2 * np.pi)
    # Neck rows, per column (the loop slopes from under the chin to the nape): from
    # just below the loop down to where the shoulders start, denser near the loop. The radius is a
    # cubic Hermite curve from the loop (its radius and slope) to the neck ellipse
    # (vertical there), then level rows follow for the shoulders and chest.
    r_ell = 1.0 / np.sqrt((st / neck_rx) ** 2 + (ct / neck_ry) ** 2)  # polar radius of the neck ellipse
    neck_top = neck_base + 0.01  # where the shoulder slope starts (q = 0 below)
    depth = np.maximum(z_loop - neck_top, 0.01)
    u = (np.linspace(0.0, 1.0, _N_NECK + 1)[1:] ** 1.3)[:, None]
    z_neck = z_loop[None, :] - depth[None, :] * u
    h00, h10, h01 = 2 * u ** 3 - 3 * u ** 2 + 1, u ** 3 - 2 * u ** 2 + u, -2 * u ** 3 + 3 * u ** 2
    r_neck = h00 * r_loop[None, :] + h10 * depth[None, :] * m_loop[None, :] + h01 * r_ell[None, :]
    z_lower = np.concatenate([np.linspace(neck_top, shoulder_z, 12)[1:],
                              np.linspace(shoulder_z, z_bottom, _N_ROWS - 19)[1:]])
    Z = np.concatenate([z_neck, np.repeat(z_lower[:, None], _N_THETA, 1)], axis=0)

    t = _smooth01((neck_base - Z) / (neck_base - shoulder_z + 0.02))
    # Shoulder profile: a rounded slope (quarter-ellipse) from neck to shoulder.
    # (sine: a straight trapezius slope from the neck that rounds over the deltoid)
    q = np.sin(0.5 * np.pi * np.clip((neck_base + 0.01 - Z) / (neck_base + 0.01 - shoulder_z), 0, 1))
    rx = neck_rx + (shoulder_w - neck_rx) * q
    rx = rx - 0.012 * _smooth01((shoulder_z - Z) / 0.25)  # arms/chest slightly narrower lower down
    ry = neck_ry + (chest_d - neck_ry) * t
    cy = neck_y + (0.012 if female else 0.015) * t  # chest centre a little behind the neck axis
    exponent = 2.0 + 1.4 * t  # round neck -> boxier torso

    sx = np.sign(st) * np.abs(st)[None, :] ** (2.0 / exponent)
    sy = np.sign(ct) * np.abs(ct)[None, :] ** (2.0 / exponent)
    X = rx * sx
    Y = cy - ry * sy  # theta = 0 faces the camera (-y)
    # Neck rows: the Hermite radius above (round cross-sections about the neck axis).
    X[:_N_NECK] = r_neck * st[None, :]
    Y[:_N_NECK] = neck_y - r_neck * ct[None, :]
    verts = np.stack([X, Y, Z], -1).reshape(-1, 3)

    # Crew neckline: lower in front than at the back; soft edge so it is not a
    # jagged triangle line.
    a = np.minimum(theta, 2 * np.pi - theta)
    neckline = neck_base - 0.018 * (0.5 + 0.5 * np.cos(a)) + 0.008
    cloth = _smooth01((neckline[None, :] - Z + 0.002) / 0.004).reshape(-1)

    n_rows = Z.shape[0]
    idx = np.arange(n_rows * _N_THETA).reshape(n_rows, _N_THETA)
    nxt = np.roll(idx, -1, axis=1)
    a0, b0 = idx[:-1], nxt[:-1]
    a1, b1 = idx[1:], nxt[1:]
    # Winding as anny's (counter-clockwise seen from outside).
    tris = np.concatenate([np.stack([a0, a1, b0], -1).reshape(-1, 3), np.stack([b0, a1, b1], -1).reshape(-1, 3)])
    n_head = len(mesh.vertices)
    order = np.argsort(loop_t, kind="stable")
    seam = _stitch(loop[order], loop_t[order], idx[0] + n_head, theta)
    return BustMesh(verts, tris.astype(np.int64), cloth, (neck_y, neck_base - 0.010, neck_base + 0.008),
                    (neck_y, neck_rx, neck_ry), seam, n_head)
