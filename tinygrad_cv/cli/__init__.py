"""The ``tinygrad-cv`` command line (also ``python -m tinygrad_cv``).

Each command group lives in its own module with a ``register(subparsers)`` function that adds
its sub-commands; every sub-command sets ``func(args) -> int`` as its handler.
Exit codes: 0 success, 1 a clear error about a file or the data, 2 bad arguments (argparse).
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "tinygrad_cv.cli.classic_commands",
    "tinygrad_cv.cli.learn_commands",
)


class CLIError(Exception):
    """An error reported to the user as one line on stderr with exit status 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinygrad-cv",
                                     description="tinygrad_cv: deep learning and classic computer vision")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"tinygrad-cv {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"tinygrad-cv {args.command}: interrupted", file=sys.stderr)
        return 130
