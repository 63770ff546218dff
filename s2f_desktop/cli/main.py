"""Entry point of the ``s2f`` command.

Each module in :mod:`s2f_desktop.cli.commands` contributes sub-commands through a
``register(subparsers)`` function; the parser sets ``func(ctx_factory, args) -> int``.
Expected errors (:class:`S2FError`) print one line to stderr and exit non-zero;
anything else is logged with its traceback and reported as an internal error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from pathlib import Path
from typing import Callable, NoReturn, Sequence

from s2f_desktop import __version__
from s2f_desktop.cli import commands as commands_pkg
from s2f_desktop.core.errors import CancelledError, S2FError
from s2f_desktop.core.text import neutralise
from s2f_desktop.services.context import AppContext, open_context
from s2f_desktop.system.logs import configure_logging
from s2f_desktop.system.paths import Terminated, install_termination_handlers
from s2f_desktop.system.settings import data_dir_in_force, load_settings

log = logging.getLogger("s2f_desktop.cli")

ContextFactory = Callable[[], AppContext]


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line on stderr (exit 2), like every other error.

    Sub-parsers inherit the class (argparse creates them with ``type(parent)``).
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def command_modules() -> list[str]:
    """Names of the command modules, in a stable order."""
    return sorted(m.name for m in pkgutil.iter_modules(commands_pkg.__path__) if not m.name.startswith("_"))


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every command module registered)."""
    parser = _Parser(
        prog="s2f",
        description="s2f-desktop command line: cases, evidence, segments, voice analysis, composites and reports. "
        "Results are investigative leads, never identifications.",
    )
    parser.add_argument("--version", action="version", version=f"s2f-desktop {__version__}")
    parser.add_argument("--data-dir", type=Path,
                        help="data directory (default: settings, then $S2F_DATA_DIR, then the per-user folder)")
    parser.add_argument("--analyst", help="name recorded in the audit trail (default: settings, then the login name)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_modules():
        importlib.import_module(f"{commands_pkg.__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    install_termination_handlers()  # SIGTERM/SIGHUP unwind like Ctrl-C: temp files are removed
    contexts: list[AppContext] = []

    def ctx_factory() -> AppContext:
        if not contexts:
            settings = load_settings()
            # Precedence: --data-dir, then settings, then $S2F_DATA_DIR, then the per-user folder.
            data_dir = data_dir_in_force(args.data_dir, settings)
            ctx = open_context(data_dir, args.analyst, settings)
            contexts.append(ctx)
            if not ctx.store.read_only:  # an archived case on read-only media keeps no log
                configure_logging(ctx.store.layout.logs)
        return contexts[0]

    try:
        return int(args.func(ctx_factory, args) or 0)
    except CancelledError:
        print("s2f: cancelled", file=sys.stderr)
        return CancelledError.exit_code
    except S2FError as exc:
        print(f"s2f: error: {neutralise(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # Output piped into `head` and the like: the reader left; not an error of ours.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except Terminated as exc:
        print(f"s2f: stopped by {exc.args[0]}; nothing half-written was kept", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("s2f: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        # The system refused (a read-only or full disk, a missing permission): not a bug, one line naming the path.
        if os.environ.get("S2F_DEBUG"):
            raise
        where = f": {exc.filename}" if exc.filename else ""
        print(f"s2f: error: {neutralise(exc.strerror or str(exc) or exc.__class__.__name__)}{where}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: keep the traceback in the log, one line for the user
        if os.environ.get("S2F_DEBUG"):
            raise
        # Commands that open no store have no log file: the traceback then stays out of the user's terminal.
        logged = bool(logging.getLogger("s2f_desktop").handlers)
        if logged:
            log.exception("internal error")
        print(f"s2f: internal error: {exc.__class__.__name__}: {exc} "
              f"({'details in the log file' if logged else 'S2F_DEBUG=1 shows where'})", file=sys.stderr)
        return 70
    finally:
        for c in contexts:
            c.close()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
