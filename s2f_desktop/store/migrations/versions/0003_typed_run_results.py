"""typed run results: schema 2 of analysis_runs.results

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-01

Release 0.1.0 stored a run's results as an untyped dict (no schema version): segments as a
mapping keyed by segment id, each with ``range_samples`` and ``evidence_id``, and an
``evidence`` mapping of sha256 and name. Schema 2 (``s2f_desktop.core.results``) stores the
analysed ranges as a ``selection`` list (with the sample rate and, for new runs, the hash of
the samples analysed; None here, since 0.1.0 did not record it), segments as a list in run
order, and each trait estimate with its model, device and extra provenance.

The transformation is written out here, not imported from the application, so that this
revision keeps meaning the same thing when the application's code changes.
"""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None

_TRAITS_FILE = "heads.npz"


def _traits_v2(t: dict[str, Any], models: list[dict[str, str]], device: str) -> dict[str, Any]:
    rec = next((m for m in models if m["id"].startswith("traits-") and m["file"] == _TRAITS_FILE), None)
    model = {"id": rec["id"], "sha256": rec["sha256"]} if rec else {"id": "", "sha256": ""}
    return {"sex": t["sex"], "age": t["age"], "model": model, "device": device, "extra": {}}


def upgrade_results(results: dict[str, Any], segment_ids: list[str], models: list[dict[str, str]], device: str,
                    rates: dict[int, int]) -> dict[str, Any]:
    """Schema 1 → 2 for one run (``rates``: evidence id → native sample rate)."""
    evidence = results.get("evidence", {})
    segs = results["segments"]
    selection, parts = [], []
    for sid in segment_ids:
        seg = segs[sid]
        ev_id = int(seg["evidence_id"])
        ev = evidence[str(ev_id)]
        start, end = seg["range_samples"]
        selection.append({"segment_id": sid, "evidence_id": ev_id, "evidence_sha256": ev["sha256"],
                          "evidence_name": ev["name"], "start_sample": int(start), "end_sample": int(end),
                          "sample_rate": rates[ev_id], "samples_sha256": None})
        parts.append({"id": sid, "duration_s": seg["duration_s"], "speech_s": seg["speech_s"],
                      "speech_regions": seg["speech_regions"], "quality": seg["quality"],
                      "traits": _traits_v2(seg["traits"], models, device), "acoustics": seg["acoustics"]})
    pooled = dict(results["pooled"])
    pooled["traits"] = _traits_v2(pooled["traits"], models, device)
    return {"schema_version": 2, "selection": selection, "segments": parts, "pooled": pooled,
            "consistency": results.get("consistency")}


def downgrade_results(results: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 → 1 (the analysed-sample hashes and trait provenance are dropped)."""
    ranges = {r["segment_id"]: r for r in results["selection"]}
    segs = {}
    for p in results["segments"]:
        r = ranges[p["id"]]
        segs[p["id"]] = {"duration_s": p["duration_s"], "speech_s": p["speech_s"],
                         "speech_regions": p["speech_regions"], "quality": p["quality"],
                         "traits": {"sex": p["traits"]["sex"], "age": p["traits"]["age"]},
                         "acoustics": p["acoustics"], "range_samples": [r["start_sample"], r["end_sample"]],
                         "evidence_id": r["evidence_id"]}
    pooled = dict(results["pooled"])
    pooled["traits"] = {"sex": pooled["traits"]["sex"], "age": pooled["traits"]["age"]}
    evidence = {str(r["evidence_id"]): {"sha256": r["evidence_sha256"], "name": r["evidence_name"]}
                for r in results["selection"]}
    return {"pooled": pooled, "segments": segs, "consistency": results["consistency"], "evidence": evidence}


def _load(v: Any) -> Any:
    return json.loads(v) if isinstance(v, str) else v


def upgrade() -> None:
    conn = op.get_bind()
    evidence: list[Any] = list(conn.execute(sa.text("SELECT id, media FROM evidence")).fetchall())
    rates = {int(i): int(_load(m)["sample_rate"]) for i, m in evidence}
    rows: list[Any] = list(conn.execute(sa.text("SELECT id, segment_ids, models, device, results FROM analysis_runs"))
                           .fetchall())
    for run_id, seg_ids, models, device, results in rows:
        res = _load(results)
        if res.get("schema_version") == 2:
            continue
        new = upgrade_results(res, _load(seg_ids), _load(models), device, rates)
        conn.execute(sa.text("UPDATE analysis_runs SET results = :r WHERE id = :i"),
                     {"r": json.dumps(new, ensure_ascii=False), "i": run_id})


def downgrade() -> None:
    conn = op.get_bind()
    rows: list[Any] = list(conn.execute(sa.text("SELECT id, results FROM analysis_runs")).fetchall())
    for run_id, results in rows:
        res = _load(results)
        if res.get("schema_version") != 2:
            continue
        conn.execute(sa.text("UPDATE analysis_runs SET results = :r WHERE id = :i"),
                     {"r": json.dumps(downgrade_results(res), ensure_ascii=False), "i": run_id})
