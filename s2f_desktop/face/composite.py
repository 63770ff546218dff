"""Render a composite from its parameter record (the one entry point services use)."""

from __future__ import annotations

import functools
from typing import Any

from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.face.anny_model import HeadMesh, load_head_model
from s2f_desktop.face.appearance import VIEWS
from s2f_desktop.face.bust import build_bust
from s2f_desktop.face.hair import build_hair
from s2f_desktop.face.mapping import FaceSpec, spec_from_parameters
from s2f_desktop.face.render import png_bytes, prepare_scene, render_views

#: (sorted phenotypes, sorted local changes): a hashable cache key for one head mesh.
_MeshKey = tuple[tuple[tuple[str, float], ...], tuple[tuple[str, float], ...]]


def _key(spec: FaceSpec) -> _MeshKey:
    return (tuple(sorted(spec.phenotypes.items())), tuple(sorted(spec.local_changes.items())))


@functools.lru_cache(maxsize=8)
def _mesh(device: str, key: _MeshKey) -> HeadMesh:
    # anny's forward pass for identical phenotypes and local changes is reused (the
    # GUI re-renders the same composite with other views; variants share nothing else).
    return load_head_model(device).mesh(dict(key[0]), dict(key[1]))


def render_parameters(params: dict[str, Any], views: tuple[str, ...] = tuple(VIEWS), size: int = 512,
                      device: str = "cpu", task: Task | None = None) -> dict[str, bytes]:
    """PNG bytes per view for a parameter record (deterministic on CPU).

    The head, hair and bust geometry and every view-independent vertex attribute are
    built once and shared by all requested views.
    """
    task = task or null_task()
    for v in views:
        if v not in VIEWS:
            raise ValueError(f"unknown view {v!r}; choose from {', '.join(VIEWS)}")
    spec = spec_from_parameters(params)
    model = load_head_model(device)
    mesh = _mesh(model.device, _key(spec))
    hair = build_hair(mesh, spec.hair_style, recede=spec.hair_recession)
    bust = build_bust(mesh, spec.female)
    scene = prepare_scene(mesh, hair, spec.appearance, bust, model.device)
    out: dict[str, bytes] = {}
    for i, v in enumerate(views):
        task.progress(i / len(views), f"rendering {v} view")
        out[v] = png_bytes(render_views(scene, (v,), size)[v])
    task.progress(1.0, "rendered")
    return out
