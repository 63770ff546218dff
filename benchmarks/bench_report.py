"""Report benchmark: time and size of a PDF report with three composites.

The fixture case is written directly through the repositories (no neural models): one
imported WAV, two segments, one analysis run with a realistic results dict, and a
primary composite with two variants whose images are small PNGs drawn with Pillow. The
tests in ``tests/test_report.py`` build their cases with :func:`build_fixture_case` too.
"""

from __future__ import annotations

import hashlib
import io
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

#: A fixed report date so fixture reports are reproducible.
FIXED_DATE = datetime(2026, 3, 14, 9, 30, 0)


@dataclass(frozen=True)
class FixtureCase:
    """Ids of what :func:`build_fixture_case` stored."""

    number: str
    evidence_id: int
    evidence_path: Path
    segment_ids: tuple[str, ...]
    run_id: int
    composite_ids: tuple[int, ...]


def synthetic_voice(path: Path, seconds: float = 6.0, sr: int = 16000, f0: float = 118.0, seed: int = 7) -> Path:
    """A voiced, vowel-like test signal (harmonics with slow F0 movement and pauses)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f = f0 * (1 + 0.06 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f) / sr
    x = sum((0.6 / k) * np.sin(k * phase) for k in range(1, 12))
    envelope = (np.sin(2 * np.pi * 0.5 * t) > -0.6).astype(float)
    x = 0.25 * x * envelope + 0.003 * rng.standard_normal(len(t))
    sf.write(str(path), x.astype(np.float32), sr, subtype="PCM_16")
    return path


def _face_png(seed: int, view: str, size: int = 512) -> bytes:
    """A deterministic stand-in composite image: a shaded head silhouette at the renderer's size.

    Shading and mild noise make it compress like a real render (a flat drawing would make
    the benchmark's file size unrealistically small).
    """
    from PIL import Image, ImageDraw, ImageFilter

    k = size / 256
    img = Image.new("RGB", (size, size), (236, 238, 241))
    d = ImageDraw.Draw(img)
    shade = 150 + (seed * 23) % 60

    def box(*xy: float) -> tuple[float, ...]:
        return tuple(v * k for v in xy)

    if view == "front":
        d.ellipse(box(68, 40, 188, 210), fill=(shade, shade, shade + 5), outline=(90, 90, 95), width=int(2 * k))
        d.ellipse(box(98, 100, 118, 112), fill=(70, 70, 75))
        d.ellipse(box(138, 100, 158, 112), fill=(70, 70, 75))
        d.line(box(128, 115, 122, 150, 134, 150), fill=(90, 90, 95), width=int(2 * k))
        d.arc(box(103, 160, 153, 185), 20, 160, fill=(80, 80, 85), width=int(3 * k))
    else:
        d.ellipse(box(80, 40, 190, 210), fill=(shade, shade, shade + 5), outline=(90, 90, 95), width=int(2 * k))
        d.polygon([box(80, 120), box(62, 140), box(82, 148)], fill=(shade, shade, shade + 5), outline=(90, 90, 95))
        d.ellipse(box(100, 100, 116, 110), fill=(70, 70, 75))
    img = img.filter(ImageFilter.GaussianBlur(1.5 * k))
    arr = np.asarray(img, dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size] / size
    light = 1.0 - 0.25 * np.hypot(xx - 0.4, yy - 0.35)[..., None]
    noise = np.random.default_rng(seed).normal(0, 1.0, arr.shape)
    img = Image.fromarray(np.clip(arr * light + noise, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _store_image(root: Path, data: bytes) -> tuple[str, str]:
    sha = hashlib.sha256(data).hexdigest()
    rel = f"{sha[:2]}/{sha}.png"
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return rel, sha


def _quality(net: float, verdict: str = "ok", reasons: list[str] | None = None) -> dict[str, Any]:
    return {"verdict": verdict, "reasons": reasons or [], "net_speech_s": net, "snr_db": 31.4,
            "clipping_fraction": 0.0, "bandwidth_hz": 7650.0, "telephone_band": False, "level_dbfs": -21.7}


def _acoustics(f0: float) -> dict[str, Any]:
    return {"f0_median": {"value": f0, "unit": "Hz"}, "f0_p5": {"value": f0 * 0.86, "unit": "Hz"},
            "f0_p95": {"value": f0 * 1.17, "unit": "Hz"}, "f0_range": {"value": 5.4, "unit": "semitones"},
            "f1": {"value": 512.3, "unit": "Hz"}, "f2": {"value": 1491.8, "unit": "Hz"},
            "f3": {"value": 2478.0, "unit": "Hz"}, "f4": {"value": 3390.5, "unit": "Hz"},
            "formant_dispersion": {"value": 959.4, "unit": "Hz"}, "vocal_tract_length": {"value": 18.24, "unit": "cm"},
            "hnr": {"value": 14.9, "unit": "dB"}, "jitter_local": {"value": 0.71, "unit": "%"},
            "shimmer_local": {"value": 4.2, "unit": "%"}, "formant_ceiling_hz": 5000.0,
            "notes": ["Formants measured on voiced frames only."]}


def build_fixture_case(ctx: Any, work_dir: Path, number: str = "2026-0042", *, variants: int = 2,
                       analyst_edit: bool = True, abstain: bool = False, image_size: int = 128) -> FixtureCase:
    """Store a complete case for report tests and benchmarks (see the module docstring).

    ``abstain`` stores a run whose sex and age estimates are abstentions (too little speech).
    ``image_size`` is the composite views' size in pixels (the renderer's is 512; tests use less).
    """
    from s2f_desktop.report.marking import MARK_VERSION, MarkInfo, mark_image
    from s2f_desktop.services.cases import create_case
    from s2f_desktop.services.evidence import import_file
    from s2f_desktop.store import repositories as repo
    from s2f_desktop.store.audit import append_event

    create_case(ctx, number, "Threatening call to a bank branch", analyst="A. Analyst", agency="Example Police")
    wav = synthetic_voice(Path(work_dir) / f"call-{number.replace('/', '_')}.wav")
    ev = import_file(ctx, number, wav).evidence
    assert ev is not None
    sr = ev.media.sample_rate
    with ctx.store.write() as s:
        case = repo.get_case(s, number)
        s1 = repo.add_segment(s, ev.id, int(0.20 * sr), int(2.45 * sr), sr, label="caller", speaker_tag="A")
        s2 = repo.add_segment(s, ev.id, int(3.10 * sr), int(5.60 * sr), sr, label="caller", speaker_tag="A")
        for seg in (s1, s2):
            append_event(s, case_id=case.id, actor=ctx.actor, action="segment.create", object_type="segment",
                         object_ids=[seg.id], details={"evidence_id": ev.id, "start_sample": seg.start_sample,
                                                       "end_sample": seg.end_sample})
        if abstain:
            sex = {"p_male": 0.61, "label": "inconclusive", "reason": "net speech 1.8 s is below the 3.0 s minimum"}
            age = {"median_years": 35.0, "interval_80": [21.0, 55.0], "label": "inconclusive",
                   "reason": "net speech 1.8 s is below the 3.0 s minimum"}
            q = _quality(1.8, "insufficient", ["net speech 1.8 s is below the 3.0 s minimum"])
        else:
            sex = {"p_male": 0.962, "label": "male"}
            age = {"median_years": 38.0, "interval_80": [27.0, 52.0], "label": "20-39",
                   "bin_probabilities": {"<20": 0.03, "20-39": 0.52, "40-59": 0.38, ">=60": 0.07}}
            q = _quality(4.32)
        results = {
            "segments": [
                {"segment_id": s1.id, "quality": _quality(2.05), "traits": {
                    "sex": {"p_male": 0.948, "label": "male"},
                    "age": {"median_years": 36.0, "interval_80": [24.0, 53.0], "label": "20-39"}},
                 "acoustics": _acoustics(121.0)},
                {"segment_id": s2.id, "quality": _quality(2.27, "ok", ["mild background noise"]), "traits": {
                    "sex": {"p_male": 0.957, "label": "male"},
                    "age": {"median_years": 40.0, "interval_80": [27.0, 55.0], "label": "40-59"}},
                 "acoustics": _acoustics(116.0)},
            ],
            "pooled": {"quality": q, "traits": {"sex": sex, "age": age}, "acoustics": _acoustics(118.4)},
            "consistency": {"verdict": "consistent", "min_similarity": 0.83, "threshold": 0.72,
                            "message": "Both segments are consistent with a single speaker (speaker-embedding "
                                       "cosine similarity above the threshold)."},
        }
        models = [{"id": "traits-v1", "file": "heads.pt", "sha256": "3" * 64},
                  {"id": "resemblyzer", "file": "pretrained.pt", "sha256": "b" * 64}]
        run = repo.add_run(s, case.id, [s1.id, s2.id], models, "0.1.0", "cpu", {"min_net_speech_s": 3.0,
                           "sex_uncertain_band": [0.35, 0.65], "vad": "silero-v6"}, 1234, results,
                           {"quality": 0.21, "embedding": 1.35, "traits": 0.04}, ctx.actor)
        append_event(s, case_id=case.id, actor=ctx.actor, action="analysis.run", object_type="run",
                     object_ids=[run.id], details={"segments": [s1.id, s2.id], "seed": 1234})
        root = ctx.store.layout.composites

        def params(age_years: float, sexv: float) -> dict[str, Any]:
            return {"sex": {"value": sexv, "origin": "voice", "note": "from p_male"},
                    "age_years": {"value": age_years, "origin": "voice", "note": "median of the age estimate"},
                    "height": {"value": 0.5, "origin": "default", "note": ""},
                    "weight": {"value": 0.5, "origin": "default", "note": ""},
                    "muscle": {"value": 0.5, "origin": "default", "note": ""},
                    "skin_tone": {"value": "neutral grey", "origin": "default", "note": "never inferred from voice"},
                    "hair": {"value": "none", "origin": "default", "note": "not inferable from voice"}}

        def composite(kind: str, label: str, p: dict[str, Any], seed: int, parent: int | None = None,
                      version: int = 1) -> Any:
            # Stored as the composite service stores them: marked (case, id, version, view) and
            # attached to the row once its id exists.
            p = {**p, "render.marking": {"value": MARK_VERSION, "origin": "default", "note": "burned-in marking"}}
            c = repo.add_composite(s, run.id, kind, label, p, {}, {}, ctx.actor, parent_id=parent, version=version)
            images, shas = {}, {}
            for view in ("front", "profile"):
                marked = mark_image(_face_png(seed, view, image_size), MarkInfo(number, c.id, version, view))
                images[view], shas[view] = _store_image(root, marked)
            c = repo.attach_composite_images(s, c.id, images, shas)
            append_event(s, case_id=case.id, actor=ctx.actor, action="composite.render", object_type="composite",
                         object_ids=[c.id], details={"kind": kind, "label": label, "images": shas})
            return c

        ids = []
        primary = composite("primary", "Most probable: male, about 38 years", params(38.0, 0.96), 1)
        ids.append(primary.id)
        for i, (kind, lab, age_v) in enumerate([("age_low", "Younger end of the interval: 27 years", 27.0),
                                                ("age_high", "Older end of the interval: 52 years", 52.0),
                                                ("other_sex", "Other sex (probability 0.04)", 38.0)][:variants]):
            p = params(age_v, 0.96 if i < 2 else 0.04)
            p["age_years"]["note"] = "end of the 80 % age interval" if i < 2 else "median of the age estimate"
            ids.append(composite(kind, lab, p, 2 + i).id)
        if analyst_edit:
            p = params(38.0, 0.96)
            p["weight"] = {"value": 0.7, "origin": "analyst", "note": "witness described a heavy build"}
            ids.append(composite("analyst_edit", "Most probable, analyst-adjusted build", p, 9, parent=primary.id,
                                 version=2).id)
    return FixtureCase(number, ev.id, wav, (s1.id, s2.id), run.id, tuple(ids))


def run(quick: bool = False) -> list[dict]:
    """Time (median of several renders) and size of a report with three composites."""
    from s2f_desktop.services.context import AppContext
    from s2f_desktop.services.reports import build_report
    from s2f_desktop.store import open_store

    repeats = 2 if quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        ctx = AppContext(open_store(Path(tmp) / "data"), "bench")
        try:
            fx = build_fixture_case(ctx, Path(tmp), variants=2, analyst_edit=False, image_size=512)
            times, sizes, pages = [], [], 0
            for i in range(repeats):
                t0 = time.perf_counter()
                res = build_report(ctx, fx.number, out=Path(tmp) / f"r{i}.pdf", generated_at=FIXED_DATE, record=False)
                times.append(time.perf_counter() - t0)
                sizes.append(res.path.stat().st_size)
                pages = res.pages
            png_bytes = sum(p.stat().st_size for p in ctx.store.layout.composites.rglob("*.png"))
        finally:
            ctx.close()
    return [
        {"benchmark": "report, 3 composites: build time (median)", "value": statistics.median(times), "unit": "s",
         "target": "< 5 s", "note": f"{repeats} runs, two-pass render, min {min(times):.2f} s"},
        {"benchmark": "report, 3 composites: file size", "value": round(sizes[-1] / 1024, 1), "unit": "KiB",
         "target": "< 5 MiB", "note": f"{pages} pages; fonts subset-embedded; 6 lossless 512 px views "
                                       f"(PNG inputs {png_bytes / 1024:.0f} KiB, shaded + noise: pessimistic)"},
    ]
