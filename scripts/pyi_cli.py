"""PyInstaller entry point of the console ``s2f`` executable (see installer.spec)."""

import multiprocessing

from s2f_desktop.cli.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    raise SystemExit(main())
