"""Every composite image that leaves the application carries its marking.

The marking ("ILLUSTRATIVE COMPOSITE — NOT A LIKENESS", case, composite id, version,
view) is burned into the pixels: stored PNGs, ``s2f composite --out`` files, ``s2f
analyze --composite`` output and GUI exports are read back and their bands compared
with freshly rendered reference bands; their sha256 is compared with the store. When
the sex is inconclusive both sexes are rendered, side by side.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from s2f_desktop.core.errors import InputError
from s2f_desktop.core.models import CompositeParam, Origin
from s2f_desktop.core.results import (
    SCHEMA_VERSION,
    Acoustics,
    Analysis,
    Pooled,
    Quality,
    QualityVerdict,
    RunResults,
    Timings,
)
from s2f_desktop.core.traits import AgeEstimate, SexEstimate, TraitEstimate
from s2f_desktop.report import marking
from s2f_desktop.report.marking import MarkInfo, mark_image, verify_marking
from s2f_desktop.services import composites as svc
from s2f_desktop.store import codec
from s2f_desktop.store import repositories as repo
from s2f_desktop.store.audit import list_events

SIZE = 64  # renders are scaled up to marking.MIN_WIDTH before marking


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _face(size: int = 256) -> bytes:
    """A deterministic stand-in render: a skin-coloured disc on grey."""
    y, x = np.mgrid[0:size, 0:size]
    img = np.full((size, size, 3), 200, np.uint8)
    img[(x - size / 2) ** 2 + (y - size / 2.2) ** 2 < (size / 3) ** 2] = (192, 142, 108)
    return _png(img)


def _traits(p_male: float, label: str, median: float = 34, interval: tuple[float, float] = (26, 45),
            age_label: str = "20-39") -> TraitEstimate:
    return TraitEstimate(SexEstimate(p_male, label), AgeEstimate(median, interval, age_label))


def add_run(ctx, case, p_male: float, label: str):  # type: ignore[no-untyped-def]
    """A stored run whose pooled estimate has this sex (composites read nothing else of a run)."""
    q = Quality(QualityVerdict.OK, (), 10.0, 30.0, 0.0, 8000.0, False, -20.0, 10.0, "pauses", {})
    pooled = Pooled(q, _traits(p_male, label), Acoustics({}, None), 10.0, 10.0)
    results = RunResults(SCHEMA_VERSION, (), (), pooled, None)
    with ctx.store.write() as s:
        return repo.add_run(s, case.id, [], [], "test", "cpu", {}, 0, results, Timings(0, 0, 0), "tester")


def events(ctx, case):  # type: ignore[no-untyped-def]
    with ctx.store.read() as s:
        return list_events(s, case.id)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_marked(data: bytes, info: MarkInfo) -> None:
    assert verify_marking(data, info) == []


# ------------------------------------------------------------------ the marking itself
def test_marking_is_deterministic_verifiable_and_covers_the_face() -> None:
    info = MarkInfo("2026-0042", 17, 3, "front")
    raw = _face(512)
    marked = mark_image(raw, info)
    assert marked == mark_image(raw, info)  # same render, same bytes, same sha256
    img = Image.open(io.BytesIO(marked))
    lay = marking.layout_for(512, 512)
    assert img.size == (512, lay.height) and lay.top >= 40 and lay.bottom >= 60
    assert marking.layout_for(512, 512, 3).bottom > lay.bottom  # a note gets its own line
    assert img.text["s2f:marking"] == marking.MARK_VERSION and img.text["s2f:case"] == "2026-0042"
    assert_marked(marked, info)
    # Another case number, version or view, or no marking at all, is detected.
    for other in (MarkInfo("2026-0043", 17, 3, "front"), MarkInfo("2026-0042", 17, 4, "front"),
                  MarkInfo("2026-0042", 17, 3, "profile"), MarkInfo("2026-0042", 71, 3, "front")):
        assert verify_marking(marked, other), other
    assert verify_marking(raw, info)
    # The diagonal mark runs over the face: cropping both bands away still leaves the
    # marking on a large share of the central region.
    face = np.asarray(img.convert("RGB"))[lay.top:lay.top + 512].astype(int)
    centre = (slice(128, 384), slice(128, 384))
    changed = np.abs(face[centre] - np.asarray(Image.open(io.BytesIO(raw)).convert("RGB")).astype(int)[centre])
    assert 0.05 < (changed.max(axis=2) > 24).mean() < 0.6


def test_small_renders_are_scaled_up_so_the_text_stays_legible() -> None:
    marked = mark_image(_face(64), MarkInfo("T-1", 1, 1, "front"))
    assert Image.open(io.BytesIO(marked)).width == marking.MIN_WIDTH
    assert_marked(marked, MarkInfo("T-1", 1, 1, "front"))
    with pytest.raises(marking.MarkingError):
        mark_image(b"not a png", MarkInfo("T-1", 1, 1, "front"))


# ------------------------------------------------------------------ inconclusive sex
def test_inconclusive_sex_plans_both_sexes_for_every_composite() -> None:
    for p_male in (0.55, 0.95):  # even a lopsided probability chooses nothing when the label is inconclusive
        traits = _traits(p_male, "inconclusive")
        plan = svc.plan_composite_set(traits)
        assert [k for k, _, _ in plan] == ["primary", "primary", "age_low", "age_low", "age_high", "age_high"]
        assert [p["sex"]["value"] for _, _, p in plan] == ["female", "male"] * 3
        assert all(p[svc.PAIR_KEY]["value"] == "sex_inconclusive" for _, _, p in plan)
        assert "sex inconclusive, both sexes shown" in plan[0][1]
    conclusive = svc.plan_composite_set(_traits(0.97, "male"))
    assert [k for k, _, _ in conclusive] == ["primary", "age_low", "age_high"]
    assert not any(svc.PAIR_KEY in p for _, _, p in conclusive)


# ------------------------------------------------------------------ stored and exported
def test_stored_cli_and_service_exports_are_marked_and_match_the_store(ctx, case, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.cli.main import main

    run = add_run(ctx, case, 0.55, "inconclusive")
    items = svc.create_composite_set(ctx, run.id, views=("front", "profile"), size=SIZE)
    assert [(c.kind, c.parameters["sex"].value) for c in items] == [
        (k, s) for k in ("primary", "age_low", "age_high") for s in ("female", "male")]
    assert all(svc.is_sex_pair(c) for c in items)
    # Stored PNGs: sha256 of the marked image is the recorded one; bands say case, id, version, view.
    for c in items:
        for view in c.images:
            data = svc.composite_image_path(ctx, c, view).read_bytes()
            assert sha(data) == c.image_sha256[view]
            assert svc.verify_composite_image(ctx, c, view) == []
            sex = c.parameters["sex"].value
            assert_marked(data, MarkInfo("T-1", c.id, c.version, view,
                                         f"Sex inconclusive: {sex} version, one of a female/male pair"))
    created = [e for e in events(ctx, case) if e.action == "composite.create"]
    assert created and created[-1].details["image_sha256"] == items[-1].image_sha256
    # The stored image is exactly the marked render: the diagonal mark is there too.
    params = codec.encode_params(items[0].parameters)
    again = svc._render(params, ("front",), SIZE, "cpu", svc.null_task())["front"]
    assert sha(mark_image(again, svc.mark_info("T-1", items[0], "front"))) == items[0].image_sha256["front"]

    # An analyst edit: a new version, marked with its own id and version.
    edit = svc.adjust_composite(ctx, items[0].id, {"nose_width": 0.5})
    assert edit.version == 2 and svc.verify_composite_image(ctx, edit, "front") == []
    assert svc.sex_pair(edit, [*items, edit]) == [edit, items[1]]  # the edited female beside the voice-derived male

    # `s2f composite list --out`: every written file is the stored, marked image.
    data_dir, out = str(ctx.data_dir), tmp_path / "out"
    assert main(["--data-dir", data_dir, "composite", "list", "T-1", str(run.id), "--out", str(out), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    files = sorted(out.glob("*.png"))
    assert len(files) == 2 * 6 + 2
    by_id = {c.id: c for c in svc.list_composites(ctx, run.id)}
    for row in listed:
        c = by_id[row["composite"]["id"]]
        for view, path in row["files"].items():
            data = Path(path).read_bytes()
            assert sha(data) == c.image_sha256[view]
            assert svc.verify_composite_image(ctx, c, view) == []
            assert_marked(data, svc.mark_info("T-1", c, view))
    # Existing files are refused (nothing rewritten) unless --force.
    before = {p: p.stat().st_mtime_ns for p in files}
    assert main(["--data-dir", data_dir, "composite", "list", "T-1", str(run.id), "--out", str(out)]) != 0
    assert "already exists" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in files} == before
    assert main(["--data-dir", data_dir, "composite", "list", "T-1", str(run.id), "--out", str(out), "--force"]) == 0
    # Service export: refuses an existing file, audits the written file's sha256.
    dest = tmp_path / "one.png"
    dest.write_bytes(b"the user's own file")
    with pytest.raises(InputError, match="already exists"):
        svc.export_composite_image(ctx, edit.id, "front", dest)
    assert dest.read_bytes() == b"the user's own file"
    path, digest = svc.export_composite_image(ctx, edit.id, "front", tmp_path / "two.png")
    assert digest == edit.image_sha256["front"] == sha(path.read_bytes())
    exports = [e for e in events(ctx, case) if e.action == "composite.export"]
    assert exports[-1].details == {"view": "front", "path": str(path), "sha256": digest, "marked_at_export": False}
    # Half of a pair exported with its partner: both stored images, female left, side by side.
    assert svc.sex_pair(items[3], items) == [items[2], items[3]]
    path, digest = svc.export_composite_image(ctx, items[3].id, "profile", tmp_path / "pair.png", with_pair=True)
    w = marking.MIN_WIDTH
    halves = marking.split_panels(path.read_bytes(), [w, w])
    for half, c in zip(halves, items[2:4]):
        stored = Image.open(svc.composite_image_path(ctx, c, "profile")).convert("RGB")
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(half))), np.asarray(stored))
    assert list(events(ctx, case)[-1].object_ids) == [str(items[2].id), str(items[3].id)]


def test_altered_stored_image_is_not_exported(ctx, case, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = add_run(ctx, case, 0.97, "male")
    c = svc.create_composite_set(ctx, run.id, views=("front",), size=SIZE)[0]
    svc.composite_image_path(ctx, c, "front").write_bytes(_face(64))
    assert "sha256 differs from the store" in svc.verify_composite_image(ctx, c, "front")
    with pytest.raises(InputError, match="does not match its recorded sha256"):
        svc.export_composite_image(ctx, c.id, "front", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
    # Verification names it (it passed before: only export and the report re-hashed composite images).
    from s2f_desktop.services.evidence import verify_case

    report = verify_case(ctx, "T-1", record=False)
    assert not report.ok
    named = [f.describe() for f in report.custody if f.failing and f.object_type == "composite"]
    assert named == [f"composite #{c.id}: front image is a file whose sha256 differs, expected sha256 "
                     f"{c.image_sha256['front'][:16]}…"]


def test_the_composites_page_does_not_show_an_altered_image(qtbot, ctx, case) -> None:  # type: ignore[no-untyped-def]
    """A stored image replaced by another picture is not shown under the composite's name and hash."""
    from s2f_desktop.gui.composites import CompositePanel
    from s2f_desktop.gui.errors import ErrorReporter
    from s2f_desktop.gui.workers import JobRunner

    run = add_run(ctx, case, 0.97, "male")
    c = svc.create_composite_set(ctx, run.id, views=("front",), size=SIZE)[0]
    runner = JobRunner()
    panel = CompositePanel(ctx, runner, ErrorReporter())
    qtbot.addWidget(panel)
    panel.set_run(run)
    assert panel.image._pix is not None  # as recorded: shown
    svc.composite_image_path(ctx, c, "front").write_bytes(_face(64))
    panel.set_run(run)
    assert panel.image._pix is None and "ALTERED since it was rendered" in panel.image.text()
    assert "image not as recorded" in panel.caption.text() and "sha256" not in panel.caption.text()
    assert runner.shutdown(10000)


def test_composite_stored_before_marking_is_marked_on_export(ctx, case, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = add_run(ctx, case, 0.97, "male")
    raw = _face(256)
    rel, digest = svc._store_image(ctx, raw)
    with ctx.store.write() as s:
        old = repo.add_composite(s, run.id, "primary", "Primary: male", {"sex": CompositeParam("male", Origin.VOICE)},
                                 {"front": rel}, {"front": digest}, "tester")
    assert svc.verify_composite_image(ctx, old, "front") == [
        "stored before images were marked (marked only when exported)"]
    path, out_sha = svc.export_composite_image(ctx, old.id, "front", tmp_path / "legacy.png")
    data = path.read_bytes()
    assert out_sha == sha(data) != digest
    assert_marked(data, MarkInfo("T-1", old.id, 1, "front"))
    assert svc.composite_image_path(ctx, old, "front").read_bytes() == raw  # the store is not changed
    assert [e for e in events(ctx, case) if e.action == "composite.export"][-1].details["marked_at_export"]


# ------------------------------------------------------------------ s2f analyze --composite
def test_render_for_traits_marks_and_shows_both_sexes_when_inconclusive(tmp_path) -> None:  # type: ignore[no-untyped-def]
    traits = _traits(0.6, "inconclusive", 40, (30, 52))
    out = svc.render_primary_for_traits(traits, tmp_path / "pair.png", size=SIZE, reference="audio sha256 0123456789ab")
    data = out.read_bytes()
    w = marking.MIN_WIDTH
    assert Image.open(io.BytesIO(data)).width == 2 * w + 8
    for panel, (sex, other) in zip(marking.split_panels(data, [w, w]), (("female", "male"), ("male", "female"))):
        note = f"Sex inconclusive: {sex} version, one of a female/male pair"
        assert_marked(panel, MarkInfo(None, None, None, "front", note, "audio sha256 0123456789ab"))
        assert verify_marking(panel, MarkInfo(None, None, None, "front", note))
        assert verify_marking(panel, MarkInfo(None, None, None, "front", note.replace(sex, other)))
    with pytest.raises(InputError, match="already exists"):
        svc.render_primary_for_traits(traits, out, size=SIZE)
    assert out.read_bytes() == data
    single = _traits(0.1, "female", 60, (50, 70), "40-59")
    out = svc.render_primary_for_traits(single, out, size=SIZE, force=True)
    assert Image.open(out).width == w
    assert_marked(out.read_bytes(), MarkInfo(None, None, None, "front"))


def test_analyze_refuses_an_existing_composite_file_before_analysing(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.cli.main import main

    existing = tmp_path / "face.png"
    existing.write_bytes(b"mine")
    assert main(["analyze", str(tmp_path / "any.wav"), "--composite", str(existing)]) == 2
    assert "already exists" in capsys.readouterr().err and existing.read_bytes() == b"mine"


# ------------------------------------------------------------------ GUI export
def test_gui_export_writes_the_marked_image_and_never_overwrites(qtbot, ctx, case, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QFileDialog

    from s2f_desktop.gui.composites import CompositePanel
    from s2f_desktop.gui.errors import ErrorReporter
    from s2f_desktop.gui.workers import JobRunner

    run = add_run(ctx, case, 0.97, "male")
    comp = svc.create_composite_set(ctx, run.id, views=("front",), size=SIZE)[0]
    runner, reporter = JobRunner(), ErrorReporter()
    reported: list[BaseException] = []
    monkeypatch.setattr(reporter, "report", lambda exc, context="": reported.append(exc))
    panel = CompositePanel(ctx, runner, reporter)
    qtbot.addWidget(panel)
    panel.set_run(run)
    assert panel.current is not None and panel.current.id == comp.id and panel.export_btn.isEnabled()
    target = tmp_path / "exported.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "PNG image (*.png)"))
    assert panel.image._marked  # carries its own marking: no overlay badge over its bands
    panel.export_btn.click()
    data = target.read_bytes()
    assert sha(data) == comp.image_sha256["front"] and not reported
    assert_marked(data, svc.mark_info("T-1", comp, "front"))
    target.write_bytes(b"edited by the user")
    panel.export_btn.click()
    assert target.read_bytes() == b"edited by the user"
    assert len(reported) == 1 and "already exists" in str(reported[0])
    # An inconclusive sex: the view and the export show the pair side by side.
    run2 = add_run(ctx, case, 0.5, "inconclusive")
    pair = svc.create_composite_set(ctx, run2.id, views=("front",), size=SIZE)[:2]
    panel.set_run(run2)
    panel.list.setCurrentRow(1)  # the male half
    assert panel.current.id == pair[1].id
    assert panel.image._pix.width() == 2 * marking.MIN_WIDTH + 8
    assert f"shown with #{pair[0].id}" in panel.caption.text()
    target = tmp_path / "pair.png"
    panel.export_btn.click()
    halves = marking.split_panels(target.read_bytes(), [marking.MIN_WIDTH] * 2)
    for half, c in zip(halves, pair):
        assert_marked(half, svc.mark_info("T-1", c, "front"))
    assert runner.shutdown(10000)


def test_analyze_composite_with_inconclusive_sex_writes_both_sexes_marked(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """The CLI path of ``s2f analyze --composite`` (analysis replaced by a stored inconclusive result)."""
    from s2f_desktop.cli.main import main
    from s2f_desktop.services import analysis

    audio_sha = "ab" * 32
    q = Quality(QualityVerdict.OK, (), 10.0, 30.0, 0.0, 8000.0, False, -20.0, 10.0, "pauses", {})
    traits = TraitEstimate(SexEstimate(0.52, "inconclusive", "in the abstention band"),
                           AgeEstimate(41, (30, 55), "inconclusive"), "traits-v1", "0" * 64, "cpu")
    obj = analysis.FileAnalysis(Path("x.wav"), audio_sha, 10.0, (0.0, 10.0), 16000,
                                Analysis((), Pooled(q, traits, Acoustics({}, None), 10.0, 10.0), None), (), "cpu", {})
    monkeypatch.setattr(analysis, "analyze_files", lambda *a, **k: iter([obj]))
    out = tmp_path / "face.png"
    assert main(["analyze", "x.wav", "--json", "--device", "cpu", "--composite", str(out)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["traits"]["sex"]["label"] == "inconclusive"  # stdout stays pure JSON
    assert "female and male side by side" in captured.err
    w = (Image.open(out).width - 8) // 2
    assert w == 512  # the CLI renders at 512 px
    panels = marking.split_panels(out.read_bytes(), [w, w])
    for panel, (sex, other) in zip(panels, (("female", "male"), ("male", "female"))):
        assert_marked(panel, MarkInfo(None, None, None, "front", f"Sex inconclusive: {sex} version, one of a "
                                                                 "female/male pair", f"audio sha256 {audio_sha[:12]}"))
        assert other != sex


def test_export_without_hard_links_still_refuses_existing_files(ctx, case, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On media without hard links (FAT/exFAT sticks) the export creates the file exclusively."""
    import os

    run = add_run(ctx, case, 0.97, "male")
    c = svc.create_composite_set(ctx, run.id, views=("front",), size=SIZE)[0]

    def no_links(*_a, **_k):  # type: ignore[no-untyped-def]
        raise PermissionError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    path, digest = svc.export_composite_image(ctx, c.id, "front", tmp_path / "usb" / "face.png")
    assert sha(path.read_bytes()) == digest == c.image_sha256["front"]
    with pytest.raises(InputError, match="already exists"):
        svc.export_composite_image(ctx, c.id, "front", path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["face.png"]  # no temporary file left behind


def test_cli_create_into_a_folder_with_existing_files_says_the_set_was_stored(ctx, case, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.cli.main import main

    run = add_run(ctx, case, 0.97, "male")
    out = tmp_path / "out"
    out.mkdir()
    # The ids the set will get (first composite of a fresh store is #1).
    (out / "composite-1-primary-front.png").write_bytes(b"an earlier export")
    rc = main(["--data-dir", str(ctx.data_dir), "composite", "T-1", str(run.id), "--views", "front", "--size",
               str(SIZE), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc != 0 and "already exists" in err and "the composites were stored" in err
    assert (out / "composite-1-primary-front.png").read_bytes() == b"an earlier export"
    assert sorted(p.name for p in out.iterdir()) == ["composite-1-primary-front.png"]  # nothing partial
    assert len(svc.list_composites(ctx, run.id)) == 3
