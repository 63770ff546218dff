"""Headless, deterministic rendering of composite heads.

Why a software rasteriser in torch rather than OpenGL or ray casting: it needs no
display, no EGL/OSMesa driver and no GPU, it runs the same code on CUDA when one is
present, and on CPU it is bit-for-bit reproducible (the z-buffer is resolved with
exact min/max reductions; no atomics-order-dependent sums), which the composite's
recorded sha256 relies on. At 512 px with 2x2 supersampling a view takes about a
tenth of a second on one CPU core (see benchmarks/bench_face.py).

Pipeline: mesh -> yaw about the head's vertical axis -> perspective camera ->
triangle rasterisation with a z-buffer -> per-pixel interpolated normals, colours and
head-space positions -> shading (Lambert key + fill + ambient, Blinn-Phong
highlights) with procedural eyes (sclera, iris, pupil), eyebrows, lash line and lip
colour -> 2x2 box downsampling -> 8-bit sRGB.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch

from s2f_desktop.face.anny_model import PART_EYE, PART_HAIR, PART_MOUTH_INSIDE, PART_SKIN, HeadMesh
from s2f_desktop.face.hair import HairMesh

#: View name -> yaw in degrees (head turned to its left, showing its right cheek).
VIEWS = {"front": 0.0, "three_quarter": 35.0, "profile": 90.0}

#: Neutral background (sRGB), a light grey that neither flatters nor biases skin tone.
BACKGROUND_SRGB = (206, 206, 204)

_SUPERSAMPLE = 2


@dataclass(frozen=True)
class Appearance:
    """Colours (sRGB 0-255) and feature strengths; all of it is illustrative."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    brow: tuple[int, int, int]
    iris: tuple[int, int, int]
    lip_tint: float  # 0 = skin coloured lips .. 1 = strongly red-brown
    brow_thickness: float  # half-height of the eyebrow band in eye radii
    lash_strength: float  # darkness of the upper lash line
    sex_female: bool


def _srgb_to_linear(c: tuple[int, int, int] | np.ndarray) -> np.ndarray:
    x = np.asarray(c, dtype=np.float64) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def _smoothstep(e0: float, e1: float, x: torch.Tensor) -> torch.Tensor:
    t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0)
    return t * t * (3 - 2 * t)


def rasterize(screen: torch.Tensor, faces: torch.Tensor, height: int, width: int,
              two_sided: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Visible fragment per covered pixel.

    ``screen`` is (N, 3): pixel x, pixel y (down) and camera depth (> 0). Triangles
    facing away from the camera are culled unless ``two_sided`` marks them. Returns the
    flat pixel indices, the triangle index there and its perspective-correct
    barycentric weights (K, 3).
    """
    dev, dt = screen.device, screen.dtype
    p = screen[faces]  # (F, 3, 3)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    xmin = torch.ceil(x.min(1).values - 0.5).clamp(0, width - 1).long()
    xmax = torch.floor(x.max(1).values - 0.5).clamp(-1, width - 1).long()
    ymin = torch.ceil(y.min(1).values - 0.5).clamp(0, height - 1).long()
    ymax = torch.floor(y.max(1).values - 0.5).clamp(-1, height - 1).long()
    bw, bh = xmax - xmin + 1, ymax - ymin + 1
    # Counter-clockwise in the image (y down) = facing the camera for anny's winding.
    facing = area < 0
    if two_sided is not None:
        facing = facing | two_sided
    keep = facing & (area.abs() > 1e-12) & (bw > 0) & (bh > 0) & (z.min(1).values > 1e-4)
    # Edge functions as planes over the pixel grid: b_i(px, py) = A_i*px + B_i*py + C_i,
    # normalised so that they are the barycentric weights.
    inv_area = 1.0 / torch.where(area == 0, torch.ones_like(area), area)
    A = torch.stack([y[:, 1] - y[:, 2], y[:, 2] - y[:, 0]], 1) * inv_area[:, None]
    B = torch.stack([x[:, 2] - x[:, 1], x[:, 0] - x[:, 2]], 1) * inv_area[:, None]
    C = torch.stack([x[:, 1] * y[:, 2] - x[:, 2] * y[:, 1], x[:, 2] * y[:, 0] - x[:, 0] * y[:, 2]], 1) * inv_area[:, None]
    # Evaluate at pixel centres relative to the bbox corner.
    ox, oy = xmin.to(dt) + 0.5, ymin.to(dt) + 0.5
    C = C + A * ox[:, None] + B * oy[:, None]
    lw = torch.ceil(torch.log2(bw.clamp(min=1).to(torch.float32))).long()
    lh = torch.ceil(torch.log2(bh.clamp(min=1).to(torch.float32))).long()
    bucket = lw * 64 + lh
    pix_l, fid_l, bary_l = [], [], []
    tri_ids = torch.arange(len(faces), device=dev)
    for key in torch.unique(bucket[keep]).tolist():
        t = tri_ids[keep & (bucket == key)]
        sw, sh = 1 << (key // 64), 1 << (key % 64)
        dx = torch.arange(sw, device=dev)
        dy = torch.arange(sh, device=dev)
        dxf, dyf = dx.to(dt), dy.to(dt)
        At, Bt, Ct = A[t], B[t], C[t]  # (T, 2)
        w0 = Ct[:, 0, None, None] + At[:, 0, None, None] * dxf[None, None, :] + Bt[:, 0, None, None] * dyf[None, :, None]
        w1 = Ct[:, 1, None, None] + At[:, 1, None, None] * dxf[None, None, :] + Bt[:, 1, None, None] * dyf[None, :, None]
        inside = (w0 >= 0) & (w1 >= 0) & (w0 + w1 <= 1)
        inside &= (dx[None, None, :] < bw[t, None, None]) & (dy[None, :, None] < bh[t, None, None])
        ti, yi, xi = torch.nonzero(inside, as_tuple=True)
        pix_l.append((ymin[t][ti] + yi) * width + xmin[t][ti] + xi)
        fid_l.append(t[ti])
        b0, b1 = w0[ti, yi, xi], w1[ti, yi, xi]
        bary_l.append(torch.stack([b0, b1, 1.0 - b0 - b1], dim=1))
    if not pix_l:
        e = torch.zeros(0, dtype=torch.long, device=dev)
        return e, e, torch.zeros((0, 3), dtype=dt, device=dev)
    pix, fid, bary = torch.cat(pix_l), torch.cat(fid_l), torch.cat(bary_l)
    zf = z[fid]  # (K, 3)
    inv_z = (bary / zf).sum(1)
    depth = 1.0 / inv_z
    zbuf = torch.full((height * width,), float("inf"), dtype=depth.dtype, device=dev)
    zbuf = zbuf.scatter_reduce(0, pix, depth, reduce="amin")
    win = depth <= zbuf[pix]
    # Ties (shared edges at equal depth) go to the higher triangle index: exact and
    # independent of evaluation order.
    fbuf = torch.full((height * width,), -1, dtype=torch.long, device=dev)
    fbuf = fbuf.scatter_reduce(0, pix[win], fid[win], reduce="amax")
    final = win & (fid == fbuf[pix])
    pix, fid, bary, zf, inv_z = pix[final], fid[final], bary[final], zf[final], inv_z[final]
    bary = (bary / zf) / inv_z[:, None]
    return pix, fid, bary


@dataclass(frozen=True)
class _Scene:
    verts: np.ndarray
    faces: np.ndarray
    part: np.ndarray  # per vertex
    brow: np.ndarray
    lip: np.ndarray
    uv: np.ndarray  # hair coordinates (zeros elsewhere)


def _scene(head: HeadMesh, hair: HairMesh | None) -> _Scene:
    v, f = head.vertices, head.faces
    part = head.parts.astype(np.int64)
    brow, lip = head.brow_weight, head.lip_weight
    uv = np.zeros((len(v), 2))
    if hair is not None:
        n = len(v)
        v = np.concatenate([v, hair.vertices])
        f = np.concatenate([f, hair.faces + n])
        part = np.concatenate([part, np.full(len(hair.vertices), PART_HAIR)])
        brow = np.concatenate([brow, np.zeros(len(hair.vertices))])
        lip = np.concatenate([lip, np.zeros(len(hair.vertices))])
        uv = np.concatenate([uv, hair.uv])
    return _Scene(v, f, part, brow, lip, uv)


def _frame(head: HeadMesh, scene: _Scene) -> tuple[np.ndarray, float]:
    """Centre and half-height (metres) of the portrait box: crown to just below the chin."""
    skin = head.vertices[head.parts == PART_SKIN]
    eye_z = float(head.eye_centres[:, 2].mean())
    top = float(scene.verts[:, 2].max())
    head_h = float(skin[:, 2].max()) - eye_z
    bottom = eye_z - 1.55 * head_h
    centre = np.array([0.0, float(head.eye_centres[:, 1].mean()), 0.5 * (top + bottom)])
    return centre, 0.5 * (top - bottom) * 1.08


def render_view(head: HeadMesh, hair: HairMesh | None, look: Appearance, view: str = "front", size: int = 512,
                device: str = "cpu") -> np.ndarray:
    """One view as an (size, size, 3) uint8 sRGB array."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose from {', '.join(VIEWS)}")
    if size < 16:
        raise ValueError("image size must be at least 16 px")
    sc = _scene(head, hair)
    centre, half = _frame(head, sc)
    yaw = math.radians(VIEWS[view])
    # Rotate about the vertical axis through the head centre (turning to its left).
    c, s = math.cos(yaw), math.sin(yaw)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    pivot = np.array([0.0, float(head.eye_centres[:, 1].mean()) + 0.09, 0.0])
    v_world = (sc.verts - pivot) @ rot.T + pivot
    normals = _vertex_normals(v_world, sc.faces)
    # Keep the turned head centred horizontally in the frame.
    centre = centre.copy()
    centre[0] = 0.5 * (float(v_world[:, 0].min()) + float(v_world[:, 0].max()))
    # Camera on -y looking at the box centre; portrait lens (~ 85 mm equivalent).
    dist = 1.2
    cam = np.array([centre[0], centre[1] - dist, centre[2]])
    rel = v_world - cam
    depth = rel[:, 1]
    ss = size * _SUPERSAMPLE
    focal = (ss / 2) / (half / dist)
    sx = ss / 2 + focal * rel[:, 0] / depth
    sy = ss / 2 - focal * rel[:, 2] / depth

    dt = torch.float64 if device == "cpu" else torch.float32
    T = lambda a, d=dt: torch.as_tensor(np.ascontiguousarray(a), dtype=d, device=device)  # noqa: E731
    screen = T(np.stack([sx, sy, depth], 1))
    faces_t = T(sc.faces, torch.long)
    two_sided = T(sc.part[sc.faces[:, 0]] == PART_HAIR, torch.bool)
    pix, fid, bary = rasterize(screen, faces_t, ss, ss, two_sided)

    fv = faces_t[fid]  # (K, 3)
    # Deferred shading in float32: interpolate every vertex attribute in one gather.
    st = torch.float32
    attrs = np.concatenate([normals, sc.verts, v_world, sc.brow[:, None], sc.lip[:, None], sc.uv], axis=1)
    a = torch.as_tensor(attrs, dtype=st, device=device)
    fr = (a[fv] * bary.to(st)[:, :, None]).sum(1)
    n = torch.nn.functional.normalize(fr[:, 0:3], dim=1)
    pos = fr[:, 3:6]  # head (unrotated) space: features are defined there
    wpos = fr[:, 6:9]
    brow_i, lip_i, uvp = fr[:, 9], fr[:, 10], fr[:, 11:13]
    dt = st
    T = lambda a, d=st: torch.as_tensor(np.ascontiguousarray(a), dtype=d, device=device)  # noqa: E731
    part = T(sc.part, torch.long)[fv[:, 0]]  # a triangle belongs to one part
    view_dir = torch.nn.functional.normalize(T(cam)[None] - wpos, dim=1)
    # Two-sided surfaces (hair sheet, thin ears): face normals towards the camera.
    n = torch.where(((n * view_dir).sum(1, keepdim=True) < 0), -n, n)

    skin_lin = T(_srgb_to_linear(look.skin))
    albedo = skin_lin[None].expand(len(pix), 3).clone()
    spec_k = torch.full((len(pix),), 0.05, dtype=dt, device=device)
    shin = torch.full((len(pix),), 16.0, dtype=dt, device=device)

    is_skin = part == PART_SKIN
    # Lips: where anny's lip-volume targets act; tinted towards red-brown.
    lipw = _smoothstep(0.30, 0.55, lip_i) * is_skin
    lip_col = skin_lin * T([0.80, 0.50, 0.50]) * (1 - 0.25 * look.lip_tint) + T([0.12, 0.02, 0.03]) * look.lip_tint
    albedo = albedo * (1 - lipw[:, None]) + lip_col[None] * lipw[:, None]
    spec_k = spec_k + 0.08 * lipw
    # Eyebrows: an arched band above each eye, drawn in head space from the eye
    # centre and radius (so it follows any slider that moves the eyes or brows), and
    # kept to the surface region anny's eyebrow target moves.
    eye_c = T(head.eye_centres)
    r = head.eye_radius
    brow_w = torch.zeros_like(brow_i)
    for side, sign in ((0, 1.0), (1, -1.0)):
        u = sign * (pos[:, 0] - eye_c[side, 0]) / r  # outward from the nose is positive
        h = (pos[:, 2] - eye_c[side, 2]) / r
        centre = 1.35 + 0.30 * (1 - ((u - 0.25) / 1.5) ** 2).clamp(min=0.0) - 0.12 * u.clamp(min=0.0)
        half = look.brow_thickness * (1 - 0.45 * ((u + 0.9) / 2.4).clamp(0.0, 1.0))
        across = _smoothstep(0.0, 0.12, half - (h - centre).abs())
        along = _smoothstep(-1.25, -0.95, u) * (1 - _smoothstep(1.25, 1.55, u))
        brow_w = torch.maximum(brow_w, across * along)
    brow_w = brow_w * is_skin * (pos[:, 1] < eye_c[0, 1]).to(dt) * _smoothstep(0.05, 0.2, brow_i)
    brow_col = T(_srgb_to_linear(look.brow))
    albedo = albedo * (1 - 0.9 * brow_w[:, None]) + brow_col[None] * (0.9 * brow_w[:, None])
    # Upper lash line: skin just outside the visible eyeball, above its centre.
    d_eye = torch.cdist(pos, eye_c)  # (K, 2)
    k = d_eye.argmin(1)
    dmin = d_eye.gather(1, k[:, None])[:, 0]
    rel_e = pos - eye_c[k]
    lash = (is_skin & (dmin < 1.22 * r) & (rel_e[:, 1] < -0.55 * r)).to(dt)
    lash = lash * _smoothstep(-0.25 * r, 0.35 * r, rel_e[:, 2]) * look.lash_strength
    albedo = albedo * (1 - lash[:, None] * 0.85)

    # Eyes: sclera, iris with a darker limbal ring, pupil; glossy.
    is_eye = part == PART_EYE
    if bool(is_eye.any()):
        dirs = torch.nn.functional.normalize(rel_e, dim=1)
        cosang = -dirs[:, 1]  # eyes look straight ahead (-y)
        iris_w = _smoothstep(math.cos(math.radians(33)), math.cos(math.radians(29)), cosang)
        pupil_w = _smoothstep(math.cos(math.radians(12)), math.cos(math.radians(10)), cosang)
        limbal = iris_w * (1 - _smoothstep(math.cos(math.radians(30)), math.cos(math.radians(25)), cosang))
        sclera = T(_srgb_to_linear((232, 226, 218)))
        iris = T(_srgb_to_linear(look.iris))
        eye_col = sclera[None] * (1 - iris_w[:, None]) + iris[None] * iris_w[:, None]
        eye_col = eye_col * (1 - 0.5 * limbal[:, None])
        eye_col = eye_col * (1 - pupil_w[:, None]) + T([0.01, 0.01, 0.01])[None] * pupil_w[:, None]
        albedo = torch.where(is_eye[:, None], eye_col, albedo)
        spec_k = torch.where(is_eye, torch.full_like(spec_k, 0.6), spec_k)
        shin = torch.where(is_eye, torch.full_like(shin, 120.0), shin)
    albedo = torch.where((part == PART_MOUTH_INSIDE)[:, None], T([0.08, 0.02, 0.02])[None], albedo)

    # Hair: base colour with fine strand-like streaks along the fall direction.
    is_hair = part == PART_HAIR
    if bool(is_hair.any()):
        th = uvp[:, 0]
        streak = 0.5 + 0.5 * torch.sin(th * 173.0 + 7.0 * torch.sin(th * 23.0 + uvp[:, 1] * 40.0))
        streak2 = 0.5 + 0.5 * torch.sin(th * 411.0 + 3.0 * torch.sin(uvp[:, 1] * 90.0))
        hair_col = T(_srgb_to_linear(look.hair))[None] * (0.70 + 0.22 * streak[:, None] + 0.16 * streak2[:, None])
        albedo = torch.where(is_hair[:, None], hair_col, albedo)
        spec_k = torch.where(is_hair, torch.full_like(spec_k, 0.10), spec_k)
        shin = torch.where(is_hair, torch.full_like(shin, 24.0), shin)

    # Lighting (world space; camera looks along +y): soft key from upper left-front,
    # weaker fill from the right, and ambient so nothing is black.
    key = torch.nn.functional.normalize(T([-0.45, -0.75, 0.50]), dim=0)
    fill = torch.nn.functional.normalize(T([0.70, -0.55, 0.05]), dim=0)
    ndk = (n @ key)
    wrap = ((ndk + 0.25) / 1.25).clamp(min=0.0)  # wrap lighting: softer terminator on skin
    ndf = (n @ fill).clamp(min=0.0)
    ambient = 0.30 + 0.08 * n[:, 2]
    diffuse = 0.85 * wrap + 0.30 * ndf + ambient
    h = torch.nn.functional.normalize(key[None] + view_dir, dim=1)
    spec = spec_k * (n * h).sum(1).clamp(min=0.0) ** shin
    colour = albedo * diffuse[:, None] + spec[:, None]

    bg = T(_srgb_to_linear(BACKGROUND_SRGB))
    img = bg[None].expand(ss * ss, 3).clone()
    img[pix] = colour
    img = img.reshape(1, ss, ss, 3).permute(0, 3, 1, 2)
    img = torch.nn.functional.avg_pool2d(img, _SUPERSAMPLE)[0].permute(1, 2, 0)
    img = img.clamp(0.0, 1.0)
    srgb = torch.where(img <= 0.0031308, img * 12.92, 1.055 * img.clamp(min=1e-12) ** (1 / 2.4) - 0.055)
    return (srgb * 255.0 + 0.5).floor().clamp(0, 255).to(torch.uint8).cpu().numpy()


def png_bytes(rgb: np.ndarray) -> bytes:
    """Deterministic PNG encoding (no timestamps or text chunks)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()
