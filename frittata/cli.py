"""The `frittata` command line: demo, compile, run, rules check, bench, cache."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from frittata.errors import FrittataError, RuntimeInputError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="frittata", description=__doc__)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="import a zoo model, run every stage, check it, report")
    demo.add_argument("--model", default="resnet18", help="zoo model (mlp, resnet18, mobilenet_v2, transformer_block)")
    demo.add_argument("--target", default="llvm", choices=("llvm", "vta"))
    comp = sub.add_parser("compile", help="compile an ONNX model (or a zoo:NAME model) to a module file")
    comp.add_argument("model", help="MODEL.onnx, or zoo:NAME for a built-in model")
    comp.add_argument("--target", default="llvm", help="llvm | vta | a registered target")
    comp.add_argument("-o", "--output", help="where to save the compiled module (.ftm)")
    comp.add_argument("--report", action="store_true", help="print what every stage did")
    comp.add_argument("--show", metavar="PATH", help="draw the compiled program (.svg, or .dot for text)")
    comp.add_argument("--rules", nargs="*", default=[], help="extra rule files")
    comp.add_argument("--disable", nargs="*", default=[], help="rule or family names to leave out")
    comp.add_argument("--shape", action="append", default=[], metavar="NAME=D,D,..",
                      help="fix the shape of an input with symbolic dimensions")
    comp.add_argument("--threads", type=int, default=None)
    run = sub.add_parser("run", help="run a compiled module on .npy inputs")
    run.add_argument("module", help="a .ftm file written by `frittata compile`")
    run.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy")
    run.add_argument("--output", metavar="DIR", help="save each output as DIR/NAME.npy")
    rules = sub.add_parser("rules", help="rule-library tools")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_sub.add_parser("check", help="property-check rules against the interpreter")
    check.add_argument("files", nargs="*", help="rule files (default: the shipped library)")
    bench = sub.add_parser("bench", help="compiled zoo models against installed peers")
    bench.add_argument("--models", nargs="*", default=None, help="zoo model names (default: all)")
    bench.add_argument("--threads", type=int, default=None)
    cache = sub.add_parser("cache", help="the kernel cache: where it is and how big, or empty it")
    cache.add_argument("cache_command", choices=("info", "clear"))
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

            return run_demo(args.model, target=args.target, quiet=args.quiet)
        case "compile":
            return _compile(args)
        case "run":
            return _run(args)
        case "rules":
            from frittata.backends.rule_runners import RUNNERS
            from frittata.rewrites.check import rules_check_main

            return rules_check_main(args.files, compiled=RUNNERS)
        case "bench":
            from frittata.benchmark import run_bench

            return run_bench(args.models, threads=args.threads)
        case "cache":
            return _cache(args.cache_command)
        case _:
            raise AssertionError(f"unhandled command {args.command}")


def _cache(command: str) -> int:
    from frittata.backends.kernel_cache import KINDS, default_cache

    for kind in KINDS:
        cache = default_cache(kind)
        if cache is None:
            print("cache: off (FRITTATA_CACHE=0)")
            return 0
        if command == "clear":
            print(f"cache {cache.folder}: removed {cache.clear()} entries")
            continue
        info = cache.info()
        print(f"cache {info['path']}: {info['entries']} entries, {info['bytes'] / 1e6:.1f} MB")
    return 0


def _load_model(spec: str, shapes: list[str]):
    from frittata import from_onnx
    from frittata.terms import zoo

    if spec.startswith("zoo:"):
        return zoo.get(spec[4:])
    fixed = {}
    for item in shapes:
        name, _, dims = item.partition("=")
        try:
            fixed[name] = tuple(int(d) for d in dims.split(","))
        except ValueError:
            raise RuntimeInputError(f"--shape: expected NAME=D,D,.. with integer dims, got {item!r}") from None
    return from_onnx(spec, shapes=fixed or None)


def _compile(args: argparse.Namespace) -> int:
    from frittata.driver import compile
    from frittata.progress import stage_progress
    from frittata.report import format_report

    program = _load_model(args.model, args.shape)
    with stage_progress(quiet=args.quiet) as progress:
        module = compile(program, args.target, rules=args.rules, disable=args.disable,
                         threads=args.threads, progress=progress)
    if args.report:
        print(format_report(module.report))
    if args.show:
        _show(module.program, args.show, args.target, Path(args.model).stem)
    if args.output:
        module.save(args.output)
        if not args.quiet:
            print(f"saved {args.output}: {module}")
    return 0


def _show(program, path: str, target: str, title: str) -> None:
    from frittata.backends.registry import get_target
    from frittata.extract.show import program_dot, write_svg

    dot = program_dot(program, target=target, cost_model=get_target(target).cost_model(), title=title)
    if path.endswith(".dot"):
        Path(path).write_text(dot)
    else:
        write_svg(dot, path)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from frittata.backends.registry import load

    module = load(args.module)
    inputs = {}
    for item in args.input:
        name, sep, file = item.partition("=")
        if not sep:
            raise RuntimeInputError(f"--input: expected NAME=FILE.npy, got {item!r}")
        try:
            inputs[name] = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise RuntimeInputError(f"--input {name}: expected a .npy file, got {file!r} ({error})") from None
    outputs = module.run(**inputs)
    for name, value in outputs.items():
        if args.output:
            Path(args.output).mkdir(parents=True, exist_ok=True)
            np.save(Path(args.output) / f"{name}.npy", value)
        print(f"{name}: {value.dtype}{list(value.shape)} {np.array2string(value.reshape(-1)[:8], precision=4)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
