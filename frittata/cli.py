"""The `frittata` command line: demo, compile, run, rules check, bench."""

from __future__ import annotations

import argparse
import sys

from frittata.errors import FrittataError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="frittata", description=__doc__)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="import a zoo model, run every stage, check it, report")
    demo.add_argument("--model", default="resnet18", help="zoo model (mlp, resnet18, mobilenet_v2, transformer_block)")
    rules = sub.add_parser("rules", help="rule-library tools")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_sub.add_parser("check", help="property-check rules against the interpreter")
    check.add_argument("files", nargs="*", help="rule files (default: the shipped library)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except FrittataError as error:
        print(f"frittata: error: {error}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    match args.command:
        case "demo":
            from frittata.demo import run_demo

            return run_demo(args.model, quiet=args.quiet)
        case "rules":
            from frittata.rewrites.check import rules_check_main

            return rules_check_main(args.files)
        case _:
            raise AssertionError(f"unhandled command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
