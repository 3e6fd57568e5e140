"""The ``intref`` command line: one entry point, one small module per subcommand in :mod:`intref.commands`.

Exit status: 0 success, 1 a check or comparison failed, 2 an error (bad arguments, unreadable or malformed
input), 3 an internal error, 130 interrupted. Errors print as one line; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from . import __version__
from .commands import COMMANDS, common_options

EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="intref",
        description="intref: bit-exact integer-only speech recognition and golden model for integer ASR hardware.",
        parents=[common_options()],
    )
    parser.add_argument("--version", action="version", version=f"intref {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    from .backends.base import BackendUnavailable
    from .errors import IntrefError

    return (IntrefError, BackendUnavailable, OSError)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (argparse has printed it)
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_ERROR
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    debug = getattr(args, "debug", False)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("intref: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _user_errors() as exc:
        if debug:
            traceback.print_exc()
        print(f"intref: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into a clear line and an exit status
        if debug:
            traceback.print_exc()
        print(
            f"intref: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
