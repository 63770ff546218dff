"""The one place errors become dialogs.

Expected errors (:class:`~s2f_desktop.core.errors.S2FError`) show their one-line
message; cancellation is a status-bar note, not an error; anything else is a bug: it
is logged with its traceback (system.logs) and the dialog says where the log is. The
same handler is installed as ``sys.excepthook`` so an exception escaping a slot never
prints a traceback at the analyst.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from s2f_desktop.core.errors import CancelledError, S2FError

log = logging.getLogger("s2f_desktop.gui")


class ErrorReporter(QObject):
    """Turns exceptions into dialogs.

    Dialogs are opened window-modal but non-blocking (``open()``), so an error raised
    during an automated test never stalls the event loop. ``reported`` carries
    ``(title, text)`` of each dialog, ``cancelled`` each cancellation note.
    """

    reported = Signal(str, str)
    cancelled = Signal(str)

    def __init__(self, log_file: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_file = log_file
        self.parent_widget: QWidget | None = None
        self.show_dialogs = True
        self.last_box: QMessageBox | None = None

    def describe(self, exc: BaseException) -> tuple[str, str, bool]:
        """``(title, text, is_bug)`` for an exception."""
        if isinstance(exc, S2FError):
            return "Cannot complete the action", exc.message, False
        where = f" Details were written to the log file:\n{self.log_file}" if self.log_file else ""
        text = (f"An unexpected error occurred ({exc.__class__.__name__}: {exc}).{where}\n\n"
                "Your case data is safe: every change is saved when it is made. "
                "Please send the log file to support.")
        return "Unexpected error", text, True

    def report(self, exc: BaseException, context: str = "") -> None:
        """Show (and for bugs, log) one exception."""
        if isinstance(exc, CancelledError):
            self.cancelled.emit(f"{context}: cancelled" if context else "cancelled")
            return
        title, text, is_bug = self.describe(exc)
        if is_bug:
            log.error("unexpected error%s", f" in {context}" if context else "",
                      exc_info=(type(exc), exc, exc.__traceback__))
        else:
            log.info("user-facing error%s: %s", f" in {context}" if context else "", text)
        if context and not is_bug:
            text = f"{context}: {text}"
        self.reported.emit(title, text)
        if self.show_dialogs:
            box = QMessageBox(QMessageBox.Icon.Critical if is_bug else QMessageBox.Icon.Warning, title, text,
                              QMessageBox.StandardButton.Ok, self.parent_widget)
            box.setObjectName("errorDialog")
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.last_box = box
            box.open()

    def excepthook(self, etype: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        """``sys.excepthook`` replacement for the GUI process."""
        if issubclass(etype, KeyboardInterrupt):
            sys.__excepthook__(etype, value, tb)
            return
        if value.__traceback__ is None and tb is not None:
            value = value.with_traceback(tb)
        try:
            self.report(value)
        except Exception:  # the reporter itself failed: last resort is the log
            log.error("error while reporting an error:\n%s", "".join(traceback.format_exception(etype, value, tb)))


def install_excepthook(reporter: ErrorReporter) -> None:
    """Route uncaught exceptions (including those in Qt slots) to the reporter."""
    sys.excepthook = reporter.excepthook
