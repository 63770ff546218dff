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
and half-depth follow a smooth neck-to-shoulder profile. Its top rows sit inside the
head's neck so no seam or gap shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from s2f_desktop.face.anny_model import PART_SKIN, HeadMesh

_N_THETA = 96
_N_ROWS = 30


@dataclass(frozen=True)
class BustMesh:
    """Bust vertices (metres), triangles and a per-vertex cloth weight (0 skin .. 1 top)."""

    vertices: np.ndarray
    faces: np.ndarray
    cloth: np.ndarray
    neckline: tuple[float, float, float]  # (axis y, neckline height at the front, at the back)
    neck: tuple[float, float, float]  # neck ellipse: (centre y, half-width, half-depth)

    def inside_neck(self, points: np.ndarray) -> np.ndarray:
        """Whether points lie inside the bust's neck cylinder (where anny's own neck is hidden)."""
        cy, rx, ry = self.neck
        return (points[:, 0] / rx) ** 2 + ((points[:, 1] - cy) / ry) ** 2 < 1.0


def _smooth01(x: np.ndarray) -> np.ndarray:
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def build_bust(mesh: HeadMesh, female: bool) -> BustMesh:
    """Neck, shoulders and upper chest fitted below ``mesh`` (sex-typical widths)."""
    v = mesh.vertices[mesh.parts == PART_SKIN]
    eye_z = float(mesh.eye_centres[:, 2].mean())
    z_top = float(v[:, 2].max())
    head_h = z_top - eye_z
    z_cut = float(v[:, 2].min())  # lowest point of anny's neck (front, under the chin)
    # Neck: sex-typical mean size (circumference ~39 cm male, ~33 cm female),
    # scaled with the head, its back flush with the back of anny's neck. Its top
    # runs up inside the head so no seam shows under the jaw.
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
    z_hidden = z_cut + 0.075  # top rows hidden inside the head's neck

    zs = np.concatenate([np.linspace(z_hidden, neck_base, 8), np.linspace(neck_base, shoulder_z, 12)[1:],
                         np.linspace(shoulder_z, z_bottom, _N_ROWS - 19)[1:]])
    t = _smooth01((neck_base - zs) / (neck_base - shoulder_z + 0.02))
    # Shoulder profile: a rounded slope (quarter-ellipse) from neck to shoulder.
    # (sine: a straight trapezius slope from the neck that rounds over the deltoid)
    q = np.sin(0.5 * np.pi * np.clip((neck_base + 0.01 - zs) / (neck_base + 0.01 - shoulder_z), 0, 1))
    rx = neck_rx + (shoulder_w - neck_rx) * q
    rx = rx - 0.012 * _smooth01((shoulder_z - zs) / 0.25)  # arms/chest slightly narrower lower down
    ry = neck_ry + (chest_d - neck_ry) * t
    cy = neck_y + (0.012 if female else 0.015) * t  # chest centre a little behind the neck axis
    exponent = 2.0 + 1.4 * t  # round neck -> boxier torso

    theta = np.linspace(0.0, 2 * np.pi, _N_THETA, endpoint=False)
    ct, st = np.cos(theta), np.sin(theta)
    sx = np.sign(st) * np.abs(st) ** (2.0 / exponent[:, None])
    sy = np.sign(ct) * np.abs(ct) ** (2.0 / exponent[:, None])
    X = rx[:, None] * sx
    Y = cy[:, None] - ry[:, None] * sy  # theta = 0 faces the camera (-y)
    Z = np.repeat(zs[:, None], _N_THETA, 1)
    verts = np.stack([X, Y, Z], -1).reshape(-1, 3)

    # Crew neckline: lower in front than at the back; soft edge so it is not a
    # jagged triangle line.
    a = np.minimum(theta, 2 * np.pi - theta)
    neckline = neck_base - 0.018 * (0.5 + 0.5 * np.cos(a)) + 0.008
    cloth = _smooth01((neckline[None, :] - Z + 0.002) / 0.004).reshape(-1)

    idx = np.arange(len(zs) * _N_THETA).reshape(len(zs), _N_THETA)
    nxt = np.roll(idx, -1, axis=1)
    a0, b0 = idx[:-1], nxt[:-1]
    a1, b1 = idx[1:], nxt[1:]
    # Winding as anny's (counter-clockwise seen from outside).
    tris = np.concatenate([np.stack([a0, a1, b0], -1).reshape(-1, 3), np.stack([b0, a1, b1], -1).reshape(-1, 3)])
    return BustMesh(verts, tris.astype(np.int64), cloth, (neck_y, neck_base - 0.010, neck_base + 0.008),
                    (neck_y, neck_rx, neck_ry))
