"""The anny head model: loading, its on-disk cache, and the rest-pose head mesh.

anny (NAVER, Apache-2.0) is a MakeHuman-based parametric human written in torch.
Building its model data from the MakeHuman targets takes about a minute here, so it
is done once by ``s2f setup`` (:func:`build_cache`) and cached as safetensors files.
anny's own default cache is ``~/.cache/anny``; we point it at a project-controlled
folder instead (:func:`anny_cache_dir`), so an installation knows and can clean
what it wrote. Nothing is downloaded: everything comes from the anny wheel.

We only ever need the *rest* shape of the head (no pose), so meshes come from
``get_rest_vertices`` - pure torch linear blend shapes - and anny's Warp skinning
kernels are never compiled or run.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from s2f_desktop.core.errors import DeviceError
from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.system.env import anny_cache_dir


def _silence_warp() -> None:
    """Keep NVIDIA Warp (imported by anny) from printing to the terminal; log it instead.

    Its Python banner goes to stdout, where it would corrupt the CLI's JSON output, so its
    log level is raised (warnings and errors still get through). Its native core also
    writes "Could not find or load the NVIDIA CUDA driver" straight to file descriptor 2
    on every machine without a GPU, which an analyst reads as a fault. Warp is therefore
    initialised here (about 35 ms) with descriptor 2 captured, and what it wrote goes to
    this module's log at INFO, so nothing it says is lost.
    """
    try:
        import warp
    except ImportError:  # anny without warp: nothing to silence
        return
    warp.config.log_level = warp.LOG_WARNING
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            warp.init()  # type: ignore[no-untyped-call]  # warp ships no annotations for init
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        said = captured.read().decode("utf-8", "replace").strip()
    if said:
        logging.getLogger(__name__).info("Warp initialisation: %s", said)


_silence_warp()

log = logging.getLogger(__name__)

#: anny configuration: MakeHuman head rig and head sub-topology (with eyes).
RIG = "makehuman-head"
TOPOLOGY = "head"

#: anny local changes ("targets") loaded for the head. Only these can be used as
#: analyst sliders or age cues; every body-only target is left out so the cached
#: model data stays small. The list is part of anny's cache key: changing it
#: triggers a one-off rebuild.
_HEAD_TARGET_PREFIXES = ("l-cheek", "r-cheek", "chin", "l-ear", "r-ear", "eyebrows", "l-eye", "r-eye",
                         "forehead", "head", "mouth", "nose", "neck")

# Intermediate build products anny writes before compacting the phenotype blend
# shapes: ~0.7 GB that the compact model never reads again once it is cached.
_INTERMEDIATE_PREFIXES = ("load_data_", "build_model_data_")


def _configure_anny() -> None:
    import anny.paths

    anny.paths.set_anny_cache_path(anny_cache_dir())


def _all_local_change_labels() -> list[str]:
    """Names of the MakeHuman face/head targets anny can load (read from its target.json).

    anny names a local change after the positive target of an opposite pair, exactly
    as done here, so these names are valid ``local_changes`` entries.
    """
    import json

    import anny.paths

    meta = json.loads((anny.paths.get_anny_root_dir() / "data/mpfb2/targets/target.json").read_text())
    labels: list[str] = []
    for key, entry in meta.items():
        for category in entry.get("categories", []):
            opposites = category.get("opposites")
            if not opposites:
                continue
            for side in ("left", "right", "unsided"):
                neg, pos = opposites.get(f"negative-{side}", ""), opposites.get(f"positive-{side}", "")
                if neg and pos and pos.startswith(_HEAD_TARGET_PREFIXES):
                    labels.append(pos)
    return labels


def cache_files() -> list[Path]:
    """The compact model-data files currently cached."""
    d = anny_cache_dir()
    if not d.exists():
        return []
    return sorted(p for p in d.rglob("*.safetensors") if p.name.startswith("build_compact_model_data_"))


def is_cached() -> bool:
    """Whether a compact head model is cached (a load will be fast)."""
    return bool(cache_files())


def _prune_intermediates() -> int:
    removed = 0
    d = anny_cache_dir()
    if d.exists():
        for p in d.rglob("*.safetensors"):
            if p.name.startswith(_INTERMEDIATE_PREFIXES):
                removed += p.stat().st_size
                p.unlink()
    return removed


def build_cache(task: Task | None = None) -> Path:
    """Build anny's head model data once (about a minute on 2 CPU cores) and keep it.

    Safe to call again: when the cache exists this only loads it. Progress is reported
    coarsely because anny itself reports none while it builds.
    """
    task = task or null_task()
    task.progress(0.0, "3D head model: checking cache")
    already = is_cached()
    if not already:
        task.progress(0.05, f"3D head model: building anny model data in {anny_cache_dir()} (about a minute, once)")
    t0 = time.perf_counter()
    model = _load_uncached()
    seconds = time.perf_counter() - t0
    freed = _prune_intermediates()
    if freed:
        log.info("removed %.0f MB of intermediate anny build files", freed / 1e6)
    task.progress(1.0, f"3D head model: {'loaded' if already else 'built'} in {seconds:.1f} s "
                       f"({len(model.local_change_labels)} face targets)")
    return anny_cache_dir()


_LOCK = threading.Lock()


def _load_uncached() -> Any:  # an anny.Anny (anny ships no type information)
    _configure_anny()
    import anny

    with _LOCK:
        return anny.Anny(rig=RIG, topology=TOPOLOGY, local_changes=_all_local_change_labels(),
                         phenotypes="all", phenotype_blendshapes="compact")


@dataclass(frozen=True)
class HeadMesh:
    """One rest-pose head in metres, z up, facing -y.

    ``parts`` gives each vertex a part code (:data:`PART_SKIN` ...). ``brow_weight``
    and ``lip_weight`` are per-vertex weights in [0, 1] locating the eyebrows and the
    lips (taken from where anny's eyebrow and lip targets move the surface), used to
    paint those features.
    """

    vertices: np.ndarray  # (V, 3) float64
    faces: np.ndarray  # (F, 3) int64
    parts: np.ndarray  # (V,) int8
    brow_weight: np.ndarray  # (V,)
    lip_weight: np.ndarray  # (V,)
    eye_centres: np.ndarray  # (2, 3) left, right
    eye_radius: float


PART_SKIN, PART_EYE, PART_MOUTH_INSIDE, PART_HAIR = 0, 1, 2, 3


class HeadModel:
    """anny's head with the helpers to turn phenotypes and local changes into a mesh."""

    def __init__(self, model: Any, device: str) -> None:
        self.model = model.to(device)
        self.device = device
        self.local_change_labels: list[str] = list(model.local_change_labels)
        self.phenotype_labels: list[str] = list(model.phenotype_labels)
        faces = model.faces.detach().cpu().numpy().astype(np.int64)
        if faces.shape[1] != 3:
            faces = model.get_triangular_faces().cpu().numpy().astype(np.int64)
        self.faces = faces
        self._parts = self._vertex_parts()
        self._brow_dirs = self._target_magnitude(["eyebrows-trans-up"])
        self._lip_dirs = self._target_magnitude(["mouth-upperlip-volume-incr", "mouth-lowerlip-volume-incr"])
        self._eye_bones = [model.bone_labels.index("eye.L"), model.bone_labels.index("eye.R")]

    # -- static per-vertex labels ---------------------------------------------------
    def _vertex_parts(self) -> np.ndarray:
        import json

        import anny.paths

        groups = json.loads((anny.paths.get_anny_root_dir() / "data/mpfb2/mesh_metadata/basemesh_vertex_groups.json")
                            .read_text())

        def members(name: str) -> set[int]:
            out: set[int] = set()
            for item in groups.get(name, []):
                if isinstance(item, list) and len(item) == 2:
                    out.update(range(item[0], item[1] + 1))
                else:
                    out.add(int(item))
            return out

        base = self.model.base_mesh_vertex_indices.cpu().numpy()
        parts = np.full(len(base), PART_SKIN, dtype=np.int8)
        eyes = members("helper-l-eye") | members("helper-r-eye")
        mouth = members("helper-tongue") | members("helper-upper-teeth") | members("helper-lower-teeth")
        parts[np.isin(base, list(eyes))] = PART_EYE
        parts[np.isin(base, list(mouth))] = PART_MOUTH_INSIDE
        return parts

    def _target_magnitude(self, labels: list[str]) -> np.ndarray:
        """Per-vertex displacement length of some local-change targets, scaled to [0, 1]."""
        names = list(self.model.blendshape_labels)
        mag = np.zeros(self.model.template_vertices.shape[0])
        for label in labels:
            i = names.index(f"local_change:{label}")
            mag = np.maximum(mag, self.model.blendshapes[i].norm(dim=-1).cpu().numpy())
        mag[self._parts != PART_SKIN] = 0.0
        return mag / max(float(mag.max()), 1e-12)

    # -- shapes -------------------------------------------------------------------
    @torch.no_grad()
    def mesh(self, phenotypes: dict[str, float], local_changes: dict[str, float] | None = None) -> HeadMesh:
        """The rest-pose head for phenotype values (anny's [0, 1] scales) and local changes."""
        m = self.model
        unknown = set(phenotypes) - set(self.phenotype_labels)
        if unknown:
            raise ValueError(f"unknown anny phenotypes: {sorted(unknown)}")
        local_changes = local_changes or {}
        bad = set(local_changes) - set(self.local_change_labels)
        if bad:
            raise ValueError(f"unknown anny local changes: {sorted(bad)}")
        pheno = torch.tensor([[float(phenotypes.get(k, 0.5)) for k in self.phenotype_labels]],
                             dtype=m.dtype, device=m.device)
        local = torch.tensor([[float(local_changes.get(k, 0.0)) for k in self.local_change_labels]],
                             dtype=m.dtype, device=m.device)
        facial = torch.zeros((1, len(m.facial_action_labels)), dtype=m.dtype, device=m.device)
        coeffs = m._get_phenotype_blendshape_coefficients(pheno, local, facial)
        verts = m.get_rest_vertices(coeffs)[0].cpu().numpy().astype(np.float64)
        from anny.skinning import skinning

        heads = skinning.apply_linear_blendshape(m.template_bone_heads, m.bone_heads_blendshapes, coeffs)[0]
        heads = heads.cpu().numpy()
        eye_c = np.stack([heads[b] for b in self._eye_bones])
        eye_mask = self._parts == PART_EYE
        radius = float(np.median(np.linalg.norm(verts[eye_mask][:, None, :] - eye_c[None], axis=-1).min(axis=1)))
        return HeadMesh(verts, self.faces, self._parts, self._brow_dirs, self._lip_dirs, eye_c, radius)


def _resolve_device(preference: str) -> str:
    if preference == "cpu":
        return "cpu"
    try:
        from s2f_desktop.inference.device import resolve_device
    except ImportError:  # pragma: no cover - inference package always ships
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    try:
        return resolve_device(preference).torch_device
    except DeviceError:
        raise


@functools.lru_cache(maxsize=4)
def load_head_model(device: str = "cpu") -> HeadModel:
    """The head model on ``device`` ("cpu", "cuda" or "auto"); cached per process.

    The first call in a fresh installation builds anny's cache (see :func:`build_cache`).
    """
    return HeadModel(_load_uncached(), _resolve_device(device))
