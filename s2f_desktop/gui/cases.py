"""Case browser: the list of cases, their details, and creating / opening / closing them."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from s2f_desktop.core.models import Case, CaseStatus
from s2f_desktop.gui.errors import ErrorReporter
from s2f_desktop.gui.pages import split_page

#: The case record's expert-report fields: (field, label, tooltip, multi-line).
REPORT_FIELDS: tuple[tuple[str, str, str, bool], ...] = (
    ("question", "Question asked", "The question the examiner was asked (printed on the report's cover)", True),
    ("propositions", "Propositions", "The propositions considered; for a comparison Hp and Hd", True),
    ("case_info", "Case information", "Case information received with the request", True),
    ("examiner_role", "Examiner role", "The examiner's role, e.g. forensic speech analyst (signature block)", False),
    ("examiner_qualifications", "Qualifications", "The examiner's qualifications (signature block)", True),
    ("listening_statement", "Listening statement",
     "What the examiner heard: language, accent, speaking style, channel (printed verbatim)", True),
)


class NewCaseDialog(QDialog):
    """Number, title, agency and notes of a new case (the analyst comes from settings)."""

    def __init__(self, analyst: str, parent: QWidget | None = None,
                 submit: Callable[[dict[str, str]], str] | None = None) -> None:
        """``submit(values)`` creates the case and returns "" or the reason it was refused: a refusal is
        shown in the dialog, which stays open with everything typed (nothing the analyst wrote is lost)."""
        super().__init__(parent)
        self.setWindowTitle("New case")
        self.submit = submit
        self.error = QLabel()
        self.error.setObjectName("newCaseError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c62828")
        self.error.hide()
        self.number = QLineEdit()
        self.number.setPlaceholderText("e.g. 2024-0117")
        self.title = QLineEdit()
        self.agency = QLineEdit()
        self.analyst = QLineEdit(analyst)
        self.notes = QPlainTextEdit()
        self.notes.setFixedHeight(80)
        self.notes.setTabChangesFocus(True)  # Tab moves on, as in every other field
        self.number.setToolTip("The case number (letters, digits, '-', '_', '.', '/')")
        self.title.setToolTip("A short title for the case")
        self.agency.setToolTip("The requesting agency")
        self.analyst.setToolTip("The analyst in charge (default: the analyst of this session)")
        self.notes.setToolTip("Free notes about the case")
        form = QFormLayout(self)
        form.addRow("Case &number", self.number)
        form.addRow("&Title", self.title)
        form.addRow("&Agency", self.agency)
        form.addRow("A&nalyst", self.analyst)
        form.addRow("N&otes", self.notes)
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def accept(self) -> None:
        """Close only once the case exists; a refusal stays in the dialog beside the fields."""
        problem = self.submit(self.values()) if self.submit is not None else ""
        if problem:
            self.error.setText(problem)
            self.error.show()
            return
        super().accept()

    def values(self) -> dict[str, str]:
        """Keyword arguments for ``services.cases.create_case``."""
        return {"number": self.number.text().strip(), "title": self.title.text().strip(),
                "agency": self.agency.text().strip(), "analyst": self.analyst.text().strip(),
                "notes": self.notes.toPlainText()}


class CaseBrowser(QWidget):
    """Table of cases plus an editable details form for the highlighted one."""

    open_requested = Signal(str)
    new_requested = Signal()
    close_requested = Signal(str)

    COLUMNS = ("Number", "Title", "Analyst", "Agency", "Status", "Last change (UTC)")

    def __init__(self, ctx: Any, reporter: ErrorReporter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.reporter = reporter
        self.cases: list[Case] = []
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setObjectName("caseTable")
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda _i: self._open_current())
        self.table.itemSelectionChanged.connect(self._show_details)

        self.new_btn = QPushButton("New case…")
        self.new_btn.setToolTip("Create a case (Ctrl+N)")
        self.open_btn = QPushButton("Open")
        self.open_btn.setToolTip("Work on the highlighted case (or double-click it)")
        self.table.setToolTip("All cases; the last change is the time of the case's newest audit event")
        self.close_btn = QPushButton("Mark closed…")
        self.close_btn.setToolTip("A closed case stays readable and reportable but accepts no changes")
        self.new_btn.clicked.connect(self.new_requested)
        self.open_btn.clicked.connect(self._open_current)
        self.close_btn.clicked.connect(self._close_current)
        buttons = QHBoxLayout()
        for b in (self.new_btn, self.open_btn, self.close_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addLayout(buttons)
        ll.addWidget(self.table)

        self.details = QGroupBox("Case details")
        self.d_number = QLabel("—")
        self.d_number.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.d_title = QLineEdit()
        self.d_analyst = QLineEdit()
        self.d_agency = QLineEdit()
        self.d_notes = QPlainTextEdit()
        self.d_notes.setTabChangesFocus(True)
        self.d_notes.setToolTip("Notes about the case (saved with 'Save details')")
        self.d_title.setToolTip("Case title")
        self.d_analyst.setToolTip("Analyst in charge of the case")
        self.d_agency.setToolTip("Requesting agency")
        # The expert-report fields (printed in the case report; audited like every case change).
        self.d_report: dict[str, QLineEdit | QPlainTextEdit] = {}
        for key, _label, tip, multi in REPORT_FIELDS:
            edit: QLineEdit | QPlainTextEdit
            if multi:
                edit = QPlainTextEdit()
                edit.setTabChangesFocus(True)
                edit.setMaximumHeight(54)
            else:
                edit = QLineEdit()
            edit.setObjectName(f"case_{key}")
            edit.setToolTip(tip)
            self.d_report[key] = edit
        self._shown: str | None = None
        self._shown_vals: tuple[str, ...] = ()
        self.d_status = QLabel("—")
        self.d_created = QLabel("—")
        self.d_counts = QLabel("—")
        self.save_btn = QPushButton("Save details")
        self.save_btn.setToolTip("Store the edited case details and report fields (audited)")
        self.save_btn.clicked.connect(self._save_details)
        form = QFormLayout(self.details)
        form.addRow("Number", self.d_number)
        form.addRow("Title", self.d_title)
        form.addRow("Analyst", self.d_analyst)
        form.addRow("Agency", self.d_agency)
        form.addRow("Status", self.d_status)
        form.addRow("Created (UTC)", self.d_created)
        form.addRow("Contents", self.d_counts)
        form.addRow("Notes", self.d_notes)
        for key, label, _tip, _multi in REPORT_FIELDS:
            form.addRow(label, self.d_report[key])
        form.addRow(self.save_btn)

        split_page(self, (left, self.details), stretch=(3, 2))
        self._show_details()

    def refresh(self, select: str | None = None) -> None:
        """Reload the case list (keeps or sets the highlighted case)."""
        from s2f_desktop.services import cases as case_svc
        from s2f_desktop.store.audit import last_event_times

        shown = self.current()
        current = select or (shown.number if shown else None)
        self.cases = case_svc.list_cases(self.ctx)
        with self.ctx.store.read() as s:
            last = last_event_times(s)
        self.table.blockSignals(True)
        self.table.selectionModel().blockSignals(True)
        self.table.clearSelection()
        self.table.setRowCount(len(self.cases))
        for r, c in enumerate(self.cases):
            changed = max(c.updated_at, last.get(c.id, c.updated_at))
            vals = (c.number, c.title, c.analyst, c.agency, c.status.value, changed.strftime("%Y-%m-%d %H:%M"))
            for col, v in enumerate(vals):
                self.table.setItem(r, col, QTableWidgetItem(v))
            if c.number == current:
                self.table.selectRow(r)
        self.table.selectionModel().blockSignals(False)
        self.table.blockSignals(False)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self._show_details()

    def current(self) -> Case | None:
        """The highlighted case."""
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.cases):
            return None
        return self.cases[rows[0].row()]

    def _open_current(self) -> None:
        c = self.current()
        if c is not None:
            self.open_requested.emit(c.number)

    def _close_current(self) -> None:
        c = self.current()
        if c is not None:
            self.close_requested.emit(c.number)

    def _show_details(self) -> None:
        c = self.current()
        editable = c is not None and c.status is CaseStatus.OPEN
        for w in (self.d_title, self.d_analyst, self.d_agency, self.d_notes, self.save_btn, *self.d_report.values()):
            w.setEnabled(editable)
        self.open_btn.setEnabled(c is not None)
        self.close_btn.setEnabled(editable)
        if c is not None and c.number == self._shown and editable and self._dirty(c):
            # The analyst is editing this case's details: refresh the counts, keep the typing. (A closed case
            # shows what is stored: typing it can no longer save must not stand in the form as its details.)
            self.d_status.setText(c.status.value)
            self.d_counts.setText(self._counts(c))
            return
        self._shown = c.number if c is not None else None
        if c is None:
            self.d_number.setText("—")
            for w in (self.d_title, self.d_analyst, self.d_agency, self.d_notes, *self.d_report.values()):
                w.clear()
            self.d_status.setText("—")
            self.d_created.setText("—")
            self.d_counts.setText("—")
            return
        self.d_number.setText(c.number)
        self.d_title.setText(c.title)
        self.d_analyst.setText(c.analyst)
        self.d_agency.setText(c.agency)
        self.d_notes.setPlainText(c.notes)
        for key, edit in self.d_report.items():
            value = str(getattr(c, key))
            if isinstance(edit, QPlainTextEdit):
                edit.setPlainText(value)
            else:
                edit.setText(value)
        self._shown_vals = self._form_values()
        self.d_status.setText(c.status.value)
        self.d_created.setText(c.created_at.strftime("%Y-%m-%d %H:%M:%S"))
        self.d_counts.setText(self._counts(c))

    def _report_values(self) -> dict[str, str]:
        return {k: (e.toPlainText() if isinstance(e, QPlainTextEdit) else e.text()) for k, e in self.d_report.items()}

    def _form_values(self) -> tuple[str, ...]:
        return (self.d_title.text(), self.d_analyst.text(), self.d_agency.text(), self.d_notes.toPlainText(),
                *self._report_values().values())

    def unsaved_details(self, number: str) -> bool:
        """Whether the form holds typing not yet saved for case ``number``."""
        c = self.current()
        return c is not None and c.number == number == self._shown and self._dirty(c)

    def _dirty(self, c: Case) -> bool:
        """Whether the form differs from what was loaded into it (the analyst is typing)."""
        return self._form_values() != self._shown_vals

    def _counts(self, c: Case) -> str:
        from s2f_desktop.store import repositories as repo

        with self.ctx.store.read() as s:
            n_ev = len(repo.list_evidence(s, c.id))
            n_seg = len(repo.list_case_segments(s, c.id))
            n_run = len(repo.list_runs(s, c.id))
        return f"{n_ev} evidence item(s), {n_seg} segment(s), {n_run} analysis run(s)"

    def _save_details(self) -> None:
        from s2f_desktop.services import cases as case_svc

        c = self.current()
        if c is None:
            return
        try:
            case_svc.update_case(self.ctx, c.number, title=self.d_title.text(), analyst=self.d_analyst.text(),
                                 agency=self.d_agency.text(), notes=self.d_notes.toPlainText(),
                                 **self._report_values())
        except Exception as exc:
            self.reporter.report(exc, "Save case details")
            return
        self._shown = None  # show the stored values
        self.refresh(select=c.number)
