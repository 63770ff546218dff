"""Help → About / Third-party licences / About Qt (pytest-qt, offscreen)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication  # noqa: E402

from s2f_desktop import __version__  # noqa: E402
from s2f_desktop.gui import about  # noqa: E402


def test_about_dialog_shows_licence_and_notices(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dlg = about.AboutDialog(tmp_path, about.TAB_ABOUT)
    qtbot.addWidget(dlg)
    assert dlg.tabs.tabText(about.TAB_NOTICES) == "Third-party licences"
    assert not dlg.notices_page.loaded, "the 2 MB notices load only when their tab is shown"
    dlg.tabs.setCurrentIndex(about.TAB_LICENCE)
    licence = dlg.licence_page.view.toPlainText()
    assert "GNU GENERAL PUBLIC LICENSE" in licence and "Corresponding Source" in licence
    dlg.tabs.setCurrentIndex(about.TAB_NOTICES)
    text = dlg.notices_page.view.toPlainText()
    assert "third-party notices" in text and "praat-parselmouth" in text and "x264" in text
    dlg.notices_page.find_edit.setText("NVIDIA CUDA runtime")
    assert dlg.notices_page.find_next()
    dlg.notices_page.find_edit.setText("no such text anywhere 7c1f")
    assert not dlg.notices_page.find_next() and dlg.notices_page.status.text() == "not found"
    assert dlg.about_qt_button.text() == "About &Qt"
    assert not dlg.windowIcon().isNull()


def test_about_page_states_version_licence_and_the_rule(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QLabel

    dlg = about.AboutDialog(tmp_path)
    qtbot.addWidget(dlg)
    text = " ".join(lbl.text() for lbl in dlg.findChildren(QLabel))
    assert __version__ in text and "GPL-3.0-or-later" in text
    assert "never identifications" in text and str(tmp_path) in text


def test_missing_notices_in_a_bundle_is_an_error_not_an_empty_page(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(about.env, "licence_file", lambda name: None)
    monkeypatch.setattr(about.env, "is_frozen", lambda: True)
    with pytest.raises(FileNotFoundError, match="THIRD_PARTY_NOTICES.txt is missing"):
        about.notices_text()
    dlg = about.AboutDialog(None, about.TAB_NOTICES)
    qtbot.addWidget(dlg)
    assert "could not be loaded" in dlg.notices_page.view.toPlainText()


def test_app_icon_has_the_rendered_sizes(qapp: QApplication) -> None:
    icon = about.app_icon()
    sizes = {(s.width(), s.height()) for s in icon.availableSizes()}
    assert {(16, 16), (48, 48), (256, 256)} <= sizes


def test_help_menu_offers_licences_and_about_qt(qtbot, ctx) -> None:  # type: ignore[no-untyped-def]
    from s2f_desktop.gui.errors import ErrorReporter
    from s2f_desktop.gui.mainwindow import MainWindow

    rep = ErrorReporter()
    rep.show_dialogs = False
    w = MainWindow(ctx, rep, save_settings_fn=lambda s: None, pdf_opener=lambda p: True)
    qtbot.addWidget(w)
    help_menu = next(m for m in w.menuBar().actions() if m.text() == "&Help").menu()
    texts = [a.text() for a in help_menu.actions()]
    assert {"Third-party &licences", "&About s2f-desktop", "About &Qt"} <= set(texts)
    assert not w.windowIcon().isNull()
    next(a for a in help_menu.actions() if a.text() == "Third-party &licences").trigger()
    dlg = w.findChild(about.AboutDialog)
    assert dlg is not None and dlg.isVisible() and dlg.tabs.currentIndex() == about.TAB_NOTICES
    assert "praat-parselmouth" in dlg.notices_page.view.toPlainText()
    dlg.close()
    w.shutdown()
