"""The user manual window (Help ▸ User manual): ``docs/manual.md`` rendered as Markdown."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QTextBrowser, QVBoxLayout, QWidget


def manual_path() -> Path | None:
    """``docs/manual.md`` next to the package (source tree) or bundled under ``resources/``."""
    here = Path(__file__).resolve()
    for cand in (here.parents[2] / "docs" / "manual.md", here.parents[2] / "resources" / "manual.md"):
        if cand.is_file():
            return cand
    return None


def manual_text() -> str:
    """The manual's Markdown, or one line saying where it should be."""
    path = manual_path()
    if path is None:
        return "# User manual\n\nThe manual (docs/manual.md) is not part of this installation."
    return path.read_text(encoding="utf-8")


class ManualWindow(QDialog):
    """A non-modal window showing the manual."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("s2f-desktop — user manual")
        self.setWindowFlag(Qt.WindowType.WindowContextHelpButtonHint, False)
        self.resize(820, 900)
        self.browser = QTextBrowser()
        self.browser.setObjectName("manualBrowser")
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(manual_text())
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser)
