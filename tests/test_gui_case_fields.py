"""The case record's expert-report fields are edited in the Cases tab and stored (audited)."""

from __future__ import annotations

from PySide6.QtWidgets import QPlainTextEdit

from s2f_desktop.gui.cases import REPORT_FIELDS, CaseBrowser
from s2f_desktop.services import cases as case_svc
from s2f_desktop.services.evidence import audit_trail


def test_report_fields_are_edited_in_the_case_details(qtbot, ctx, reporter) -> None:  # type: ignore[no-untyped-def]
    case_svc.create_case(ctx, "R-1", "Bank call", analyst="A. Examiner", agency="Police")
    browser = CaseBrowser(ctx, reporter)
    qtbot.addWidget(browser)
    browser.refresh(select="R-1")
    values = {key: f"{label} of case R-1\nsecond line" if multi else f"{label} of case R-1"
              for key, label, _tip, multi in REPORT_FIELDS}
    for key, edit in browser.d_report.items():
        assert edit.toolTip() and edit.isEnabled()
        if isinstance(edit, QPlainTextEdit):
            edit.setPlainText(values[key])
        else:
            edit.setText(values[key])
    browser.save_btn.click()
    assert not reporter.shown, reporter.shown
    stored = case_svc.get_case(ctx, "R-1")
    assert {key: getattr(stored, key) for key in values} == values
    events, chain = audit_trail(ctx, "R-1")
    assert chain.ok and events[-1].action == "case.update"
    assert set(events[-1].details["changes"]) == set(values)
    # A closed case's details are read-only in the form too.
    case_svc.close_case(ctx, "R-1")
    browser.refresh(select="R-1")
    assert not any(e.isEnabled() for e in browser.d_report.values())
