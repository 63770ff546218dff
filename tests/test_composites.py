"""Composite services: sets, storage with sha256, audit, analyst versions, CLI."""

from __future__ import annotations

import hashlib

import pytest

from s2f_desktop.core.errors import InputError
from s2f_desktop.services import composites as svc
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import list_events

SIZE = 64


def add_run(ctx, case, p_male: float = 0.97):  # type: ignore[no-untyped-def]
    results = {"pooled": {"traits": {"sex": {"p_male": p_male, "label": "male" if p_male > 0.5 else "female"},
                                     "age": {"median_years": 34, "interval_80": [26, 45], "label": "20-39"}}}}
    with ctx.store.write() as s:
        return repo.add_run(s, case.id, [], [], "test", "cpu", {}, 0, results, {}, "tester")


def test_composite_set_is_stored_hashed_and_audited(ctx, case) -> None:  # type: ignore[no-untyped-def]
    run = add_run(ctx, case, p_male=0.8)
    items = svc.create_composite_set(ctx, run.id, views=("front", "profile"), size=SIZE)
    assert [c.kind for c in items] == ["primary", "age_low", "age_high", "other_sex"]
    assert items[0].label.startswith("Primary: male (p=0.80), age 34")
    for c in items:
        assert set(c.images) == {"front", "profile"}
        for view in c.images:
            path = svc.composite_image_path(ctx, c, view)
            assert hashlib.sha256(path.read_bytes()).hexdigest() == c.image_sha256[view] == path.stem
        assert c.parameters["sex"]["origin"] == "voice"
    assert svc.list_composites(ctx, run.id) == items
    with ctx.store.read() as s:
        actions = [e.action for e in list_events(s, case.id)]
    assert actions.count("composite.create") == 4


def test_adjustment_creates_a_new_version_and_keeps_the_source(ctx, case) -> None:  # type: ignore[no-untyped-def]
    run = add_run(ctx, case)
    primary = svc.create_composite_set(ctx, run.id, views=("front",), size=SIZE)[0]
    edit = svc.adjust_composite(ctx, primary.id, {"nose_width": 0.8, "chin_height": -0.5})
    assert edit.kind == "analyst_edit" and edit.parent_id == primary.id and edit.version > primary.version
    assert edit.parameters["adjust.nose_width"] == {"value": 0.8, "origin": "analyst", "note": "Nose width",
                                                    "illustrative": False}
    assert edit.parameters["sex"] == primary.parameters["sex"]
    assert edit.image_sha256["front"] != primary.image_sha256["front"]
    stored = {c.id: c for c in svc.list_composites(ctx, run.id)}
    assert stored[primary.id] == primary  # the voice-derived version is untouched
    with pytest.raises(InputError):
        svc.adjust_composite(ctx, primary.id, {"nose_width": 1.5})
    with pytest.raises(InputError):
        svc.adjust_composite(ctx, primary.id, {"wings": 0.1})


def test_bad_inputs_are_input_errors(ctx, case) -> None:  # type: ignore[no-untyped-def]
    run = add_run(ctx, case)
    with pytest.raises(InputError):
        svc.create_composite_set(ctx, run.id, views=("top",))
    with pytest.raises(InputError):
        svc.create_composite_set(ctx, run.id, skin="green", size=SIZE)
    with ctx.store.write() as s:
        empty = repo.add_run(s, case.id, [], [], "test", "cpu", {}, 0, {}, {}, "tester")
    with pytest.raises(InputError):
        svc.create_composite_set(ctx, empty.id, size=SIZE)


def test_render_primary_for_traits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    traits = svc.traits_from_run_results({"sex": {"p_male": 0.1}, "age": {"median_years": 60, "interval_80": [50, 70]}})
    out = svc.render_primary_for_traits(traits, tmp_path / "x" / "c.png", size=SIZE)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_composite(ctx, case, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.cli.main import main

    run = add_run(ctx, case)
    data_dir = str(ctx.data_dir)
    rc = main(["--data-dir", data_dir, "composite", "T-1", str(run.id), "--views", "front", "--size", str(SIZE),
               "--out", str(tmp_path / "out")])
    assert rc == 0
    assert len(list((tmp_path / "out").glob("*.png"))) == 3
    assert "Primary: male" in capsys.readouterr().out
    assert main(["--data-dir", data_dir, "composite", "sliders"]) == 0
    assert main(["--data-dir", data_dir, "composite", "T-1", "99"]) != 0


def test_services_import_without_torch() -> None:
    import subprocess
    import sys

    code = "import sys, s2f_desktop.services.composites; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
