"""The case record's expert-report fields are edited in the Cases tab and stored (audited)."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox, QPlainTextEdit

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


def test_exhibit_provenance_is_recorded_from_the_evidence_page(qtbot, ctx, case, tone_wav, reporter) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.gui.evidence import EvidencePage
    from s2f_desktop.gui.workers import JobRunner
    from s2f_desktop.services import evidence as ev_svc

    ev = ev_svc.import_file(ctx, case.number, tone_wav()).evidence
    assert ev is not None
    runner = JobRunner()
    page = EvidencePage(ctx, runner, reporter)
    qtbot.addWidget(page)
    page.set_case(case.number)
    assert page.current() is not None and page.provenance_btn.isEnabled()
    dlg = page.provenance_dialog()
    assert dlg is not None
    wanted = {"received_from": "DC A. Smith", "received_on": "2026-03-14", "medium": "USB stick", "seal": "S-0042"}
    for key, value in wanted.items():
        dlg.edits[key].setText(value)
    dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save).click()
    assert not reporter.shown, reporter.shown
    stored = ev_svc.list_evidence(ctx, case.number)[0]
    assert {k: getattr(stored, k) for k in wanted} == wanted
    events, chain = audit_trail(ctx, case.number)
    assert chain.ok and events[-1].action == "evidence.provenance"
    assert "USB stick" in page.details.text() and "S-0042" in page.details.text()
    assert runner.shutdown(20000)


def test_a_refused_new_case_keeps_what_was_typed(qtbot, ctx) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.core.errors import S2FError
    from s2f_desktop.gui.cases import NewCaseDialog

    case_svc.create_case(ctx, "D-1", "Existing")
    created: list[str] = []

    def submit(v: dict[str, str]) -> str:
        try:
            created.append(case_svc.create_case(ctx, v["number"], v["title"], agency=v["agency"],
                                                notes=v["notes"]).number)
        except S2FError as exc:
            return exc.message
        return ""

    dlg = NewCaseDialog("A. Examiner", None, submit)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.number.setText("D-1")
    dlg.title.setText("Second call")
    dlg.agency.setText("Police")
    dlg.notes.setPlainText("three pages of notes")
    dlg.accept()  # the number is taken: refused, the dialog stays with every field as typed
    assert dlg.isVisible() and not dlg.error.isHidden() and "D-1" in dlg.error.text()
    assert (dlg.title.text(), dlg.agency.text(), dlg.notes.toPlainText()) == ("Second call", "Police",
                                                                             "three pages of notes")
    dlg.number.setText("D-2")
    dlg.accept()
    assert not dlg.isVisible() and created == ["D-2"]
    assert case_svc.get_case(ctx, "D-2").notes == "three pages of notes"
