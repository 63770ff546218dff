"""Help → About: version, the one rule every analyst must know, the licence, the third-party notices.

The texts shown are the files that ship with this installation (``LICENSE``,
``LICENSING.md``, ``THIRD_PARTY_NOTICES.txt``, found by :mod:`s2f_desktop.system.env`).
A source checkout where ``make notices`` has not been run generates the notices from the
running environment instead (same code as the build, :mod:`s2f_desktop.system.notices`).
Large texts are loaded when their tab is first shown.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QIcon
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from s2f_desktop import APP_NAME, __version__
from s2f_desktop.system import env

log = logging.getLogger(__name__)

#: SPDX identifier of the application's licence (LICENSING.md explains the choice).
PROJECT_LICENCE = "GPL-3.0-or-later"
#: Tab order of the dialog.
TAB_ABOUT, TAB_LICENCE, TAB_NOTICES = 0, 1, 2


def app_icon() -> QIcon:
    """The application icon (window, task bar, dialogs), from resources/icons."""
    icons = env.resources_dir() / "icons"
    icon = QIcon()
    for png in sorted((icons / "png").glob("s2f-desktop-*.png")):
        icon.addFile(str(png))
    if icon.isNull() and (icons / "s2f-desktop.svg").is_file():
        icon.addFile(str(icons / "s2f-desktop.svg"))
    return icon


def licence_text() -> str:
    """LICENSE followed by LICENSING.md, as shipped; raises FileNotFoundError when missing."""
    parts = []
    for name in ("LICENSING.md", "LICENSE"):
        path = env.licence_file(name)
        if path is None:
            raise FileNotFoundError(f"{name} is missing from this installation")
        parts.append(path.read_text(encoding="utf-8"))
    return "\n\n".join(parts)


def notices_text() -> str:
    """THIRD_PARTY_NOTICES.txt as shipped, or generated from the running environment in a checkout."""
    from s2f_desktop.system import notices

    path = env.licence_file(notices.NOTICES_FILE)
    if path is not None:
        return path.read_text(encoding="utf-8")
    if env.is_frozen():
        raise FileNotFoundError(f"{notices.NOTICES_FILE} is missing from this bundle")
    return notices.generate_for_running_app(env.resources_dir() / "licenses")


class _TextPage(QWidget):
    """A read-only monospaced text with a find field; loads its text when first shown."""

    def __init__(self, loader: Callable[[], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loader = loader
        self.loaded = False
        self.view = QPlainTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.find_edit = QLineEdit(self)
        self.find_edit.setPlaceholderText("Find (Enter: next)")
        self.find_edit.setClearButtonEnabled(True)
        self.find_edit.returnPressed.connect(self.find_next)
        self.status = QLabel(self)
        row = QHBoxLayout()
        row.addWidget(self.find_edit, 1)
        row.addWidget(self.status)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(self.view, 1)

    def ensure_loaded(self) -> None:
        if self.loaded:
            return
        self.loaded = True
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.view.setPlainText(self._loader())
            self.status.setText("")
        except Exception as exc:  # a broken installation: say what is missing, keep the dialog usable
            log.exception("licence text could not be loaded")
            self.view.setPlainText(f"This text could not be loaded: {exc}\n\n"
                                   "The installation is incomplete; reinstall s2f-desktop.")
        finally:
            QApplication.restoreOverrideCursor()

    def find_next(self) -> bool:
        """Select the next occurrence of the find text (wrapping once); returns whether one was found."""
        needle = self.find_edit.text()
        if not needle:
            return False
        found = self.view.find(needle) or (self._wrap() and self.view.find(needle))
        self.status.setText("" if found else "not found")
        return bool(found)

    def _wrap(self) -> bool:
        cursor = self.view.textCursor()
        cursor.movePosition(cursor.MoveOperation.Start)
        self.view.setTextCursor(cursor)
        return True


class AboutDialog(QDialog):
    """About s2f-desktop, with the licence and the third-party notices on their own tabs."""

    def __init__(self, data_dir: Path | str | None = None, tab: int = TAB_ABOUT, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        self.setWindowIcon(app_icon())
        self.resize(820, 620)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._about_page(data_dir), "About")
        self.licence_page = _TextPage(licence_text, self)
        self.notices_page = _TextPage(notices_text, self)
        self.tabs.addTab(self.licence_page, "Licence")
        self.tabs.addTab(self.notices_page, "Third-party licences")
        self.tabs.currentChanged.connect(self._tab_changed)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.about_qt_button = QPushButton("About &Qt", self)
        buttons.addButton(self.about_qt_button, QDialogButtonBox.ButtonRole.HelpRole)
        self.about_qt_button.clicked.connect(lambda: QApplication.aboutQt())
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.tabs, 1)
        lay.addWidget(buttons)
        self.tabs.setCurrentIndex(tab)
        self._tab_changed(tab)

    def _about_page(self, data_dir: Path | str | None) -> QWidget:
        page = QWidget(self)
        icon = QLabel(page)
        icon.setPixmap(app_icon().pixmap(96, 96))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        where = f"<p>Data directory: {html.escape(str(data_dir))}</p>" if data_dir else ""
        text = QLabel(
            f"<h2>{APP_NAME} {html.escape(__version__)}</h2>"
            "<p>Offline voice profiling. Estimates of sex and age from speech, with calibrated "
            "uncertainty, and illustrative composite faces.</p>"
            "<p><b>Results are investigative leads, never identifications.</b></p>"
            f"<p>Licensed under the GNU General Public License, version 3 or later ({PROJECT_LICENCE}): "
            "you may redistribute and modify it under those terms. There is NO WARRANTY, to the extent "
            "permitted by law. See the <i>Licence</i> tab; the licences of the libraries it is built with are on "
            "the <i>Third-party licences</i> tab.</p>"
            "<p>Data sets behind the trained models (LibriSpeech, CC BY 4.0; AVSpeech, research use) are credited "
            "in each model card.</p>" + where,
            page,
        )
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        text.setOpenExternalLinks(True)
        lay = QHBoxLayout(page)
        lay.addWidget(icon)
        lay.addWidget(text, 1)
        return page

    def _tab_changed(self, index: int) -> None:
        page = self.tabs.widget(index)
        if isinstance(page, _TextPage):
            page.ensure_loaded()


def show_about(parent: QWidget | None, data_dir: Path | str | None = None, tab: int = TAB_ABOUT) -> AboutDialog:
    """Open the dialog (modal to ``parent``) and return it."""
    dlg = AboutDialog(data_dir, tab, parent)
    dlg.open()
    return dlg


__all__ = ["AboutDialog", "PROJECT_LICENCE", "TAB_ABOUT", "TAB_LICENCE", "TAB_NOTICES", "app_icon", "licence_text",
           "notices_text", "show_about"]
