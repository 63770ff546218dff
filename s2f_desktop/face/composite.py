"""Render a composite from its parameter record (the one entry point services use)."""

from __future__ import annotations

from s2f_desktop.core.progress import Task, null_task
from s2f_desktop.face.anny_model import load_head_model
from s2f_desktop.face.hair import build_hair
from s2f_desktop.face.mapping import spec_from_parameters
from s2f_desktop.face.render import VIEWS, png_bytes, render_view


def render_parameters(params: dict, views: tuple[str, ...] = tuple(VIEWS), size: int = 512, device: str = "cpu",
                      task: Task | None = None) -> dict[str, bytes]:
    """PNG bytes per view for a parameter record (deterministic on CPU)."""
    task = task or null_task()
    for v in views:
        if v not in VIEWS:
            raise ValueError(f"unknown view {v!r}; choose from {', '.join(VIEWS)}")
    spec = spec_from_parameters(params)
    model = load_head_model(device)
    mesh = model.mesh(spec.phenotypes, spec.local_changes)
    hair = build_hair(mesh, spec.hair_style)
    out: dict[str, bytes] = {}
    for i, v in enumerate(views):
        task.progress(i / len(views), f"rendering {v} view")
        out[v] = png_bytes(render_view(mesh, hair, spec.appearance, v, size, model.device))
    task.progress(1.0, "rendered")
    return out
