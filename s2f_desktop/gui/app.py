"""Entry point of the desktop application (``s2f-desktop`` and ``python -m s2f_desktop``).

Start-up order: settings, logging into the data directory, the error reporter (also
installed as ``sys.excepthook``), the application context, then the window. A failure
before the window exists (unreadable settings, a data directory that cannot be
created) is still shown as a dialog rather than a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

log = logging.getLogger("s2f_desktop.gui")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``s2f-desktop`` (no Qt import: ``--help``/``--version`` need no display)."""
    from s2f_desktop import __version__

    p = argparse.ArgumentParser(
        prog="s2f-desktop",
        description="s2f-desktop: forensic voice profiling (desktop). Results are investigative leads, "
        "never identifications.",
        epilog="Qt's own options (for example -platform offscreen, -style fusion) go after '--': "
        "s2f-desktop --case 2026-0042 -- -style fusion",
    )
    p.add_argument("--version", action="version", version=f"s2f-desktop {__version__}")
    p.add_argument("--data-dir", type=Path, help="data directory (default: settings, then $S2F_DATA_DIR)")
    p.add_argument("--analyst", help="name recorded in the audit trail (default: settings, then the login name)")
    p.add_argument("--case", metavar="NUMBER", help="open this case number at start")
    p.add_argument("--quit-after-show", action="store_true", help=argparse.SUPPRESS)  # start-up benchmark
    return p


def _parse(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """Our options, strictly (an unknown one exits 2 with the usage line), and Qt's, after ``--``."""
    args = list(argv) if argv is not None else sys.argv[1:]
    qt_args: list[str] = []
    if "--" in args:
        i = args.index("--")
        args, qt_args = args[:i], args[i + 1:]
    return build_parser().parse_args(args), qt_args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the desktop application; returns the exit code."""
    args, qt_args = _parse(argv)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from s2f_desktop import APP_NAME, __version__
    from s2f_desktop.core.errors import S2FError
    from s2f_desktop.gui.errors import ErrorReporter, install_excepthook
    from s2f_desktop.system.env import DataLayout
    from s2f_desktop.system.logs import configure_logging
    from s2f_desktop.system.settings import Settings, load_settings

    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    # The .desktop file's id: Wayland compositors match the window to its menu entry and icon.
    QApplication.setDesktopFileName("org.s2f_desktop.S2FDesktop")
    from s2f_desktop.gui.about import app_icon

    QApplication.setWindowIcon(app_icon())
    reporter = ErrorReporter()
    install_excepthook(reporter)
    try:
        try:
            settings = load_settings()
        except S2FError as exc:
            QMessageBox.warning(None, "Settings", f"{exc.message}\n\nDefault settings are used for this session.")
            settings = Settings()
        data_dir = args.data_dir or settings.resolved_data_dir()
        reporter.log_file = configure_logging(DataLayout(Path(data_dir)).logs)
        log.info("s2f-desktop %s starting, data dir %s", __version__, data_dir)
        from s2f_desktop.services.context import open_context

        ctx = open_context(data_dir, args.analyst, settings)
    except S2FError as exc:
        QMessageBox.critical(None, "s2f-desktop cannot start", exc.message)
        return exc.exit_code
    except Exception as exc:  # a bug or an unusable data directory: log and say where
        log.exception("start-up failed")
        QMessageBox.critical(None, "s2f-desktop cannot start",
                             f"Start-up failed ({exc.__class__.__name__}: {exc}).\n"
                             f"Details: {reporter.log_file or 'see the terminal'}")
        return 70

    from s2f_desktop.gui.mainwindow import MainWindow

    window = MainWindow(ctx, reporter)
    window.show()
    if args.case:
        window.open_case(args.case)
    if args.quit_after_show:
        QTimer.singleShot(0, app.quit)
    try:
        return int(app.exec())
    finally:
        window.shutdown()
        ctx.close()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
