"""Fault injection points for the crash tests (inactive unless ``S2F_FAULT_AT`` is set).

``fault_point("import.staged")`` does nothing in normal use. When the environment names
that point (``S2F_FAULT_AT=import.staged``), the process injures itself there as
``S2F_FAULT_ACTION`` says: ``kill9`` (SIGKILL: no cleanup at all, like a power loss),
``sigterm``, ``sighup``, ``sigint`` (delivered to itself, handled like a user's signal) or
``raise`` (an OSError, like a full disk). The tests in ``tests/test_custody_attacks.py``
run the CLI in a subprocess at every point and check the store, vault and chain after.
"""

from __future__ import annotations

import os
import signal

_SIGNALS = {"kill9": "SIGKILL", "sigterm": "SIGTERM", "sighup": "SIGHUP", "sigint": "SIGINT"}


def fault_point(name: str) -> None:
    """Injure the process here if the environment asks for it (test hook; no-op otherwise)."""
    if os.environ.get("S2F_FAULT_AT") != name:
        return
    action = os.environ.get("S2F_FAULT_ACTION", "raise")
    if action == "raise":
        raise OSError(28, f"injected failure at {name}")
    sig = getattr(signal, _SIGNALS.get(action, ""), None)
    if sig is None:
        raise ValueError(f"unknown S2F_FAULT_ACTION {action!r}")
    os.kill(os.getpid(), sig)
