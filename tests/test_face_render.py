"""Rendering: determinism, non-blank images, sex/age differences, anny targets exist."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from s2f_desktop.face import anny_model, mapping
from s2f_desktop.face.adjustments import ADJUSTMENTS
from s2f_desktop.face.composite import render_parameters
from s2f_desktop.face.render import BACKGROUND_SRGB

SIZE = 96  # small on purpose: the 512 px default is covered by the benchmark


def params(sex: str, age: float) -> dict:
    return mapping.build_parameters(sex=sex, age_years=age, sex_note="", age_note="")


def rgb(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int32)


@pytest.fixture(scope="module")
def renders() -> dict[tuple[str, int], dict[str, bytes]]:
    return {(s, a): render_parameters(params(s, a), size=SIZE) for s, a in [("male", 25), ("female", 25), ("male", 70)]}


def test_every_slider_target_exists_in_the_model() -> None:
    model = anny_model.load_head_model("cpu")
    labels = set(model.local_change_labels)
    missing = [t for a in ADJUSTMENTS for t in a.targets if t not in labels]
    assert not missing
    assert {"head-age-incr", "l-eye-bag-incr", "r-eye-bag-incr"} <= labels


def test_images_are_png_of_the_requested_size_and_not_blank(renders) -> None:  # type: ignore[no-untyped-def]
    for views in renders.values():
        assert set(views) == {"front", "three_quarter", "profile"}
        for data in views.values():
            img = rgb(data)
            assert img.shape == (SIZE, SIZE, 3)
            differs = np.any(img != np.array(BACKGROUND_SRGB), axis=-1).mean()
            assert 0.2 < differs < 0.9  # a head fills a good part of the frame, background shows
            assert img.std() > 20


def test_rendering_is_deterministic(renders) -> None:  # type: ignore[no-untyped-def]
    again = render_parameters(params("male", 25), views=("front",), size=SIZE)
    assert hashlib.sha256(again["front"]).hexdigest() == hashlib.sha256(renders[("male", 25)]["front"]).hexdigest()


def test_images_differ_between_sexes_and_ages(renders) -> None:  # type: ignore[no-untyped-def]
    m, f, old = (rgb(renders[k]["front"]) for k in [("male", 25), ("female", 25), ("male", 70)])
    assert np.abs(m - f).mean() > 5
    assert np.abs(m - old).mean() > 1
    assert renders[("male", 25)]["front"] != renders[("male", 25)]["profile"]


def test_head_and_shoulders_framing(renders) -> None:  # type: ignore[no-untyped-def]
    img = rgb(renders[("female", 25)]["front"])
    bg = np.array(BACKGROUND_SRGB)
    bottom = np.any(img[-2] != bg, axis=-1)
    assert bottom[SIZE // 2] and bottom.mean() > 0.5  # shoulders fill the lower edge
    assert np.all(img[0] == bg)  # margin above the hair


def test_hair_is_smooth_and_leaves_the_face_visible() -> None:
    from s2f_desktop.face.hair import build_hair

    model = anny_model.load_head_model("cpu")
    spec = mapping.spec_from_parameters(params("female", 30))
    mesh = model.mesh(spec.phenotypes, spec.local_changes)
    skin = mesh.vertices[mesh.parts == anny_model.PART_SKIN]
    eye_y, eye_z = mesh.eye_centres[:, 1].mean(), mesh.eye_centres[:, 2].mean()
    for style in ("short", "shoulder"):
        hair = build_hair(mesh, style)
        v = hair.vertices
        # No spike at the crown: the top of the hair is a few centimetres at most above the skull.
        assert 0.0 < v[:, 2].max() - skin[:, 2].max() < 0.03
        # Below the upper forehead, no hair hangs in front of the eyes.
        low = v[v[:, 2] < eye_z + 0.02]
        assert (low[:, 1] > eye_y).all()
    assert build_hair(mesh, "none") is None
    assert build_hair(mesh, "shoulder").vertices[:, 2].min() < skin[:, 2].min()  # long hair reaches the shoulders


def test_slider_changes_the_mesh() -> None:
    model = anny_model.load_head_model("cpu")
    base = model.mesh({"gender": 0.0, "age": 0.8})
    wide = model.mesh({"gender": 0.0, "age": 0.8}, {"nose-scale-horiz-incr": 1.0})
    moved = np.linalg.norm(wide.vertices - base.vertices, axis=1)
    assert 0 < (moved > 1e-4).sum() < len(moved) // 4  # a local change: only the nose region moves
    with pytest.raises(ValueError):
        model.mesh({"gender": 0.0}, {"no-such-target": 1.0})


def test_loading_the_head_model_writes_nothing_to_the_terminal() -> None:
    """Warp's native core writes a CUDA-driver warning to descriptor 2 on machines without a
    GPU; the analyst saw it after every `--composite`. It must go to the log, not the terminal.
    (Any later Warp call, here the CUDA query anny's code makes, would initialise Warp.)"""
    import subprocess
    import sys

    code = ("import logging, sys; logging.basicConfig(stream=sys.stdout, level=logging.INFO, format='%(message)s');"
            "import s2f_desktop.face.anny_model; import warp; warp.is_cuda_available()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == ""
