"""Logging set-up: a rotating file in the data directory plus stderr for warnings."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

_configured = False


def configure_logging(log_dir: Path, level: int = logging.INFO, console: bool = False) -> Path:
    """Configure the ``s2f_desktop`` logger once; returns the log file path."""
    global _configured
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "s2f-desktop.log"
    logger = logging.getLogger("s2f_desktop")
    if not _configured:
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
        logger.addHandler(handler)
        if console:
            stream = logging.StreamHandler()
            stream.setLevel(logging.WARNING)
            stream.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
            logger.addHandler(stream)
        logger.setLevel(level)
        _configured = True
    return path
