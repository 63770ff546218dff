"""``python -m s2f_desktop`` starts the desktop application."""

from s2f_desktop.gui.app import main

if __name__ == "__main__":
    raise SystemExit(main())
