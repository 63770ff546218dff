"""Stored speaker-comparison runs (table ``comparison_runs``, Alembic revision 0005).

A comparison run records the questioned and the known segment ids, every model file used
({id, file, sha256}), the app version, the device, the parameters and the result (LR,
verbal expression, propositions, quality, abstention reason) as a typed
:class:`~s2f_desktop.core.comparison_results.ComparisonResults`, encoded and decoded only by
:mod:`s2f_desktop.store.codec`. Rows are never updated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from s2f_desktop.core.comparison_results import ComparisonResults
from s2f_desktop.core.errors import NotFoundError
from s2f_desktop.core.timeutil import utcnow
from s2f_desktop.store import codec
from s2f_desktop.store.orm import ComparisonRunRow


@dataclass(frozen=True)
class ComparisonRun:
    """One stored speaker comparison of a case."""

    id: int
    case_id: int
    questioned_ids: tuple[str, ...]
    known_ids: tuple[str, ...]
    models: tuple[dict[str, str], ...]
    app_version: str
    device: str
    parameters: dict[str, Any]
    results: ComparisonResults
    timings: dict[str, float]
    created_at: datetime
    created_by: str


def to_comparison(r: ComparisonRunRow) -> ComparisonRun:
    # Named, so that a row edited into an unreadable shape points at itself (verify exits 4 with this line).
    with codec.stored_row(f"comparison run #{r.id}"):
        return ComparisonRun(r.id, r.case_id, tuple(r.questioned_ids), tuple(r.known_ids), tuple(r.models),
                             r.app_version, r.device, dict(r.parameters), codec.decode_comparison_results(r.results),
                             dict(r.timings), r.created_at, r.created_by)


def add_comparison(s: Session, case_id: int, questioned_ids: Sequence[str], known_ids: Sequence[str],
                   models: Sequence[dict[str, str]], app_version: str, device: str, parameters: dict[str, Any],
                   results: ComparisonResults, timings: dict[str, float], created_by: str) -> ComparisonRun:
    row = ComparisonRunRow(case_id=case_id, questioned_ids=list(questioned_ids), known_ids=list(known_ids),
                           models=list(models), app_version=app_version, device=device, parameters=parameters,
                           results=codec.encode_comparison_results(results), timings=timings, created_at=utcnow(),
                           created_by=created_by)
    s.add(row)
    s.flush()
    return to_comparison(row)


def get_comparison(s: Session, comparison_id: int) -> ComparisonRun:
    row = s.get(ComparisonRunRow, comparison_id)
    if row is None:
        raise NotFoundError(f"no comparison run with id {comparison_id}")
    return to_comparison(row)


def list_comparisons(s: Session, case_id: int) -> list[ComparisonRun]:
    rows = s.execute(select(ComparisonRunRow).where(ComparisonRunRow.case_id == case_id)
                     .order_by(ComparisonRunRow.id)).scalars()
    return [to_comparison(r) for r in rows]
