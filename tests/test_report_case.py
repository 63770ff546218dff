"""The case report's request, provenance, examiner, listening, conclusions and review sections.

Set through ``s2f case edit|provenance|review`` on a case the services built (no models
needed: the report of a case without runs still carries every section).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pypdf import PdfReader

from s2f_desktop.cli.main import main
from s2f_desktop.services.evidence import audit_trail, import_file
from s2f_desktop.services.reports import build_report


def words(path: Path) -> str:
    return " ".join("\n".join(p.extract_text() or "" for p in PdfReader(str(path)).pages).split())


def test_case_fields_provenance_and_review_are_recorded_and_printed(ctx, case, tone_wav, tmp_path,
                                                                    capsys) -> None:
    wav = tone_wav(seconds=2.0, name="exhibit-A.wav")
    ev = import_file(ctx, "T-1", wav).evidence
    assert ev is not None
    d = str(ctx.data_dir)
    assert main(["--data-dir", d, "case", "edit", "T-1", "--case-analyst", "A. Analyst",
                 "--question", "What can the voice in exhibit A tell about the speaker's sex and age?",
                 "--propositions", "Investigative question; no propositions are evaluated.",
                 "--case-info", "Call received at the branch on 3 March; the caller was not identified.",
                 "--examiner-role", "forensic speech analyst",
                 "--qualifications", "MSc phonetics; 6 years of casework",
                 "--listening", "English, male-sounding adult voice, fast read speech, wideband, no background."]) == 0
    assert main(["--data-dir", d, "case", "provenance", "T-1", str(ev.id), "--received-from", "DC Smith",
                 "--received-on", "2026-03-04", "--medium", "USB stick", "--seal", "SEAL-0042"]) == 0
    assert main(["--data-dir", d, "case", "review", "T-1", "--reviewer", "B. Reviewer", "--role", "senior analyst",
                 "--outcome", "agreed with comments", "--notes", "Interval wording checked."]) == 0
    assert main(["--data-dir", d, "case", "review", "T-1", "--reviewer", "A. Analyst", "--outcome", "agreed"]) == 2
    assert "someone other than the examiner" in capsys.readouterr().err
    events, chain = audit_trail(ctx, "T-1")
    assert chain.ok and [e.action for e in events][-3:] == ["case.update", "evidence.provenance", "case.review"]
    res = build_report(ctx, "T-1", out=tmp_path / "r.pdf", generated_at=datetime(2026, 3, 14, 9, 30), record=False)
    text = words(res.path)
    for s in ("Question asked What can the voice in exhibit A tell about the speaker's sex and age?",
              "Propositions Investigative question; no propositions are evaluated.",
              "Case information received Call received at the branch on 3 March",
              "DC Smith", "2026-03-04", "USB stick", "SEAL-0042", "exhibit-A.wav",
              "English, male-sounding adult voice, fast read speech, wideband, no background.",
              "8. Examiner and review", "Examiner A. Analyst", "Role forensic speech analyst",
              "Qualifications MSc phonetics; 6 years of casework", "Signature",
              "Reviewer B. Reviewer", "Outcome agreed with comments", "Comments Interval wording checked.",
              f"hash {events[-1].hash[:16]}"):
        assert s in text, s
    assert str(wav) in "".join(text.split())  # the original path (wrapped in its cell)
    positions = [text.index(h) for h in ("The request", "1. Evidence", "3. Findings", "Listening statement",
                                         "Conclusions", "7. Reproducibility", "8. Examiner and review")]
    assert positions == sorted(positions)


def test_unset_fields_say_not_stated_and_closed_case_refuses_edits(ctx, case, tmp_path, capsys) -> None:
    res = build_report(ctx, "T-1", out=tmp_path / "r.pdf", generated_at=datetime(2026, 3, 14, 9, 30), record=False)
    text = words(res.path)
    assert "Question asked not stated" in text
    assert "No listening statement has been recorded by the examiner." in text
    assert "No second-examiner review is recorded" in text
    d = str(ctx.data_dir)
    assert main(["--data-dir", d, "case", "close", "T-1"]) == 0
    capsys.readouterr()
    assert main(["--data-dir", d, "case", "edit", "T-1", "--question", "x"]) != 0
    err = capsys.readouterr().err.strip()
    assert "closed" in err and "\n" not in err


def test_review_names_what_it_could_not_have_seen_and_earlier_reviews_stay(ctx, case, tone_wav, tmp_path) -> None:
    """A red-team pass recorded "agreed" on an empty case, then analysed: the report showed the review as
    agreeing with the later run, and a later "agreed" hid an earlier "not agreed"."""
    d = str(ctx.data_dir)
    assert main(["--data-dir", d, "case", "review", "T-1", "--reviewer", "Dr C. Critic",
                 "--outcome", "not agreed", "--notes", "unsupported"]) == 0
    assert main(["--data-dir", d, "case", "review", "T-1", "--reviewer", "Dr B. Second", "--outcome", "agreed"]) == 0
    res = build_report(ctx, "T-1", out=tmp_path / "a.pdf", record=False)
    text = words(res.path)
    assert "Covers everything recorded up to audit event" in text and "Not covered" not in text
    assert "Earlier reviews" in text and "Dr C. Critic, outcome “not agreed” (unsupported)" in text
    assert "cannot confirm the reviewer's identity" in text
    ev = import_file(ctx, "T-1", tone_wav(seconds=2.0, name="later.wav")).evidence
    assert ev is not None
    res = build_report(ctx, "T-1", out=tmp_path / "b.pdf", record=False)
    text = words(res.path)
    assert "Not covered recorded after this review, so not reviewed: evidence.import" in text
    assert "predates 1 evidential change(s) or result(s) in this report" in text  # the first page's warning


def test_rows_edited_beside_an_intact_chain_are_stated_in_the_report(ctx, case, tmp_path) -> None:
    """A red-team pass forged the listening statement by SQL; the report printed it under "Hash chain intact"."""
    from sqlalchemy import text as sql

    d = str(ctx.data_dir)
    assert main(["--data-dir", d, "case", "edit", "T-1", "--listening", "Adult voice, read speech."]) == 0
    res = build_report(ctx, "T-1", out=tmp_path / "a.pdf", record=False)
    assert "Stored records: every one agrees with what the chain recorded." in words(res.path)
    with ctx.store.engine.begin() as conn:
        conn.execute(sql("update cases set listening_statement = 'I listened to all material in full'"))
    res = build_report(ctx, "T-1", out=tmp_path / "b.pdf", record=False)
    text = words(res.path)
    assert "1 stored record(s) DIFFER from what the audit trail recorded for them" in text
    assert ("listening_statement is \"I listened to all material in full\", expected \"Adult voice, read speech.\""
            in text)
    assert "Stored records: 1 DIFFER from what the chain recorded" in text
