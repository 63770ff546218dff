"""Composite services: sets, storage with sha256, audit, analyst versions, CLI."""

from __future__ import annotations

import hashlib

import pytest

from s2f_desktop.core.errors import InputError
from s2f_desktop.core.models import CompositeParam, Origin
from s2f_desktop.core.results import SCHEMA_VERSION, Acoustics, Pooled, Quality, QualityVerdict, RunResults, Timings
from s2f_desktop.core.traits import AgeEstimate, SexEstimate, TraitEstimate
from s2f_desktop.services import composites as svc
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import list_events

SIZE = 64


def traits(p_male: float = 0.97) -> TraitEstimate:
    return TraitEstimate(SexEstimate(p_male, "male" if p_male > 0.5 else "female"), AgeEstimate(34, (26, 45), "20-39"))


def add_run(ctx, case, p_male: float = 0.97):  # type: ignore[no-untyped-def]
    """A stored run whose pooled estimate is ``traits(p_male)`` (composites read nothing else of a run)."""
    q = Quality(QualityVerdict.OK, (), 10.0, 30.0, 0.0, 8000.0, False, -20.0, 10.0, "pauses", {})
    pooled = Pooled(q, traits(p_male), Acoustics({}, None), 10.0, 10.0)
    results = RunResults(SCHEMA_VERSION, (), (), pooled, None)
    with ctx.store.write() as s:
        return repo.add_run(s, case.id, [], [], "test", "cpu", {}, 0, results, Timings(0, 0, 0), "tester")


def test_composite_set_is_stored_hashed_and_audited(ctx, case) -> None:  # type: ignore[no-untyped-def]
    run = add_run(ctx, case, p_male=0.8)
    items = svc.create_composite_set(ctx, run.id, views=("front", "profile"), size=SIZE)
    assert [c.kind for c in items] == ["primary", "age_low", "age_high", "other_sex"]
    assert items[0].label.startswith("Primary: male (p=0.800), age 34")
    for c in items:
        assert set(c.images) == {"front", "profile"}
        for view in c.images:
            path = svc.composite_image_path(ctx, c, view)
            assert hashlib.sha256(path.read_bytes()).hexdigest() == c.image_sha256[view] == path.stem
        assert c.parameters["sex"].origin is Origin.VOICE
    assert svc.list_composites(ctx, run.id) == items
    with ctx.store.read() as s:
        actions = [e.action for e in list_events(s, case.id)]
    assert actions.count("composite.create") == 4


def test_adjustment_creates_a_new_version_and_keeps_the_source(ctx, case) -> None:  # type: ignore[no-untyped-def]
    run = add_run(ctx, case)
    primary = svc.create_composite_set(ctx, run.id, views=("front",), size=SIZE)[0]
    edit = svc.adjust_composite(ctx, primary.id, {"nose_width": 0.8, "chin_height": -0.5})
    assert edit.kind == "analyst_edit" and edit.parent_id == primary.id and edit.version > primary.version
    assert edit.parameters["adjust.nose_width"] == CompositeParam(0.8, Origin.ANALYST, "Nose width", False)
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


def test_render_primary_for_traits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = svc.render_primary_for_traits(traits(0.1), tmp_path / "x" / "c.png", size=SIZE)
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


def test_planning_a_set_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = ("import sys\n"
            "from s2f_desktop.core.traits import AgeEstimate, SexEstimate, TraitEstimate\n"
            "from s2f_desktop.services.composites import plan_composite_set\n"
            "t = TraitEstimate(SexEstimate(0.7, 'male'), AgeEstimate(40, (30, 52), '40-59'))\n"
            "plan = plan_composite_set(t)\n"
            "print(len(plan), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "4 False"


def test_closed_case_refuses_composites_and_stores_nothing(ctx, case, capsys) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.cli.main import main
    from s2f_desktop.services.cases import close_case

    run = add_run(ctx, case)
    first = svc.create_composite_set(ctx, run.id, views=("front",), size=SIZE)[0]
    close_case(ctx, "T-1")
    with ctx.store.read() as s:
        before = (len(repo.list_composites(s, run.id)), len(list_events(s, case.id)))
    images_before = sorted(ctx.store.layout.composites.rglob("*"))
    capsys.readouterr()
    rc = main(["--data-dir", str(ctx.data_dir), "composite", "T-1", str(run.id), "--views", "front",
               "--size", str(SIZE)])
    err = capsys.readouterr().err
    assert rc != 0
    assert err.strip().count("\n") == 0 and "closed" in err
    with pytest.raises(InputError, match="closed"):
        svc.adjust_composite(ctx, first.id, {svc.ADJUSTMENTS[0].name: svc.ADJUSTMENTS[0].maximum})
    with ctx.store.read() as s:
        assert (len(repo.list_composites(s, run.id)), len(list_events(s, case.id))) == before
    assert sorted(ctx.store.layout.composites.rglob("*")) == images_before


def test_no_composites_when_both_traits_abstained_before_any_answer() -> None:
    gated = TraitEstimate(SexEstimate(0.24, "inconclusive", "only 2.1 s of speech (need 3.0 s)"),
                          AgeEstimate(30, (12, 60), "inconclusive", {}, "only 2.1 s of speech (need 3.0 s)"))
    assert gated.gate_reason == "only 2.1 s of speech (need 3.0 s)"
    with pytest.raises(InputError, match="no composites: the analysis abstained on sex and age"):
        svc.plan_composite_set(gated)
    # An uncertain sex and an age without a band label are answers: their composites are drawn.
    answered = TraitEstimate(SexEstimate(0.5, "inconclusive", "P(male) 0.50 lies in the uncertain band"),
                             AgeEstimate(37, (13, 67), "inconclusive", {}, "age bands are not validated"))
    assert answered.gate_reason == ""
    plan = svc.plan_composite_set(answered)
    assert len(plan) >= 2 and any("no age band" in label for _kind, label, _params in plan)
