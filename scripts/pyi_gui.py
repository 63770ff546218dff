"""PyInstaller entry point of the windowed ``s2f-desktop`` executable (see installer.spec)."""

import multiprocessing

from s2f_desktop.gui.app import main

if __name__ == "__main__":
    # Frozen apps must call this before anything spawns a process (worker pools).
    multiprocessing.freeze_support()
    raise SystemExit(main())
