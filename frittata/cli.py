"""The `frittata` command line: demo, compile, run, rules check, grad check, onnx check, bench, tune,
vta explore, cache."""

from __future__ import annotations

import argparse
import sys
import traceback
from importlib.metadata import version
from pathlib import Path

from frittata.errors import DeployError, FrittataError, RuleCheckError, RuntimeInputError


EPILOG = """exit status:
  0  success
  1  a check failed (a rule is unsound, a VJP disagrees with finite differences, compiled
     outputs differ from the interpreter, an ONNX model uses unsupported operators)
  2  usage or input error (bad arguments, unreadable or malformed files, wrong inputs)"""


def _global_flags(defaults: bool) -> argparse.ArgumentParser:
    """-q and --debug, accepted before and after the subcommand: the main parser sets the
    defaults, the subcommands' copies leave the attribute alone unless the flag is given."""
    flags = argparse.ArgumentParser(add_help=False)
    default = False if defaults else argparse.SUPPRESS
    flags.add_argument("-q", "--quiet", action="store_true", default=default, help="no progress output")
    flags.add_argument("--debug", action="store_true", default=default, help="print the traceback of an error")
    return flags


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="frittata", description=__doc__, epilog=EPILOG,
                                     parents=[_global_flags(True)],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('frittata')}")
    sub = parser.add_subparsers(dest="command", required=True)
    flags = _global_flags(False)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[flags], epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    demo = command("demo", "import a zoo model, run every stage, check it, report")
    demo.add_argument("--model", default="resnet18", help="zoo model (mlp, resnet18, mobilenet_v2, transformer_block)")
    demo.add_argument("--target", default="llvm", choices=("llvm", "vta"))
    comp = command("compile", "compile an ONNX model (or a zoo:NAME model) to a module file")
    comp.add_argument("model", help="MODEL.onnx, or zoo:NAME for a built-in model")
    comp.add_argument("--target", default="llvm",
                      help='llvm | vta | a registered target | "llvm -mtriple=T -mcpu=C -mattr=F" (cross)')
    comp.add_argument("--vta-config", metavar="FILE",
                      help="the VTA hardware configuration (a vta_config.json file, or pynq, ultra96, "
                           "zcu104, de10nano) for --target vta")
    comp.add_argument("-o", "--output", help="where to write what --emit names")
    comp.add_argument("--emit", choices=("ftm", "so", "c-header"), default="ftm",
                      help="ftm: a module file for frittata.load; so: a shared library with a C API (llvm "
                           "targets), its header beside it; c-header: that header alone")
    comp.add_argument("--report", action="store_true", help="print what every stage did")
    comp.add_argument("--show", metavar="PATH", help="draw the compiled program (.svg, or .dot for text); "
                      "with --profile, with measured times")
    comp.add_argument("--profile", action="store_true",
                      help="run the module on random inputs and print the measured time of each kernel")
    comp.add_argument("--repeat", type=_positive, default=10, help="runs timed by --profile (default 10)")
    comp.add_argument("--rules", nargs="*", default=[],
                      help="extra rule files, property-checked first (a rule that passed is remembered)")
    comp.add_argument("--no-check-rules", dest="check_rules", action="store_false",
                      help="trust the --rules files without checking them (checked offline)")
    comp.add_argument("--disable", nargs="*", default=[], help="rule or family names to leave out")
    comp.add_argument("--shape", action="append", default=[], metavar="NAME=D,D,..",
                      help="fix the shape of an input with symbolic dimensions")
    comp.add_argument("--threads", type=int, default=None)
    comp.add_argument("--records", help="tuning records (JSONL from `frittata tune`) to price kernels by")
    run = command("run", "run a compiled module on .npy inputs")
    run.add_argument("module", help="a .ftm file written by `frittata compile`")
    run.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy")
    run.add_argument("--output", metavar="DIR", help="save each output as DIR/NAME.npy")
    run.add_argument("--time", action="store_true", help="also print the median wall time of a run")
    run.add_argument("--profile", action="store_true", help="also print the measured time of each kernel")
    run.add_argument("--repeat", type=_positive, default=10, help="runs timed by --time or --profile (default 10)")
    rules = command("rules", "rule-library tools")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_sub.add_parser("check", help="property-check rules against the interpreter", parents=[flags])
    check.add_argument("files", nargs="*", help="rule files (default: the shipped library)")
    grad = command("grad", "gradient tools")
    grad_sub = grad.add_subparsers(dest="grad_command", required=True)
    grad_check = grad_sub.add_parser("check", parents=[flags],
                                     help="check every op's VJP against finite differences (float64)")
    grad_check.add_argument("ops", nargs="*", help="op names (default: every op with a VJP)")
    grad_check.add_argument("--examples", type=_positive, default=8, help="random cases per op (default 8)")
    grad_check.add_argument("--seed", type=int, default=0)
    onnx = command("onnx", "ONNX model tools")
    onnx_sub = onnx.add_subparsers(dest="onnx_command", required=True)
    onnx_check = onnx_sub.add_parser("check", parents=[flags],
                                     help="which operators of a model import (counts, nodes), without compiling")
    onnx_check.add_argument("model", help="MODEL.onnx")
    bench = command("bench", "compiled zoo models against installed peers")
    bench.add_argument("--models", nargs="*", default=None, help="zoo model names (default: all)")
    bench.add_argument("--threads", type=int, default=None)
    tune = command("tune", "measure a model's candidate kernels and log them as tuning records")
    tune.add_argument("model", help="MODEL.onnx, or zoo:NAME for a built-in model")
    tune.add_argument("--records", required=True, help="the JSONL log of measurements (compile with --records)")
    tune.add_argument("--trials", type=_positive, default=200, help="measurements in this run (default 200)")
    tune.add_argument("--resume", action="store_true", help="continue the run logged in --records")
    tune.add_argument("--ray", metavar="ADDRESS", nargs="?", const="", default=None,
                      help="measure on a Ray cluster's workers of this device (no address: a local Ray)")
    tune.add_argument("--search", choices=("learned", "roofline", "random"), default="learned",
                      help="how candidates are ranked (frittata.tuning.tuner.SEARCHES; default learned)")
    tune.add_argument("--time-limit", type=float, default=None, help="stop after this many seconds")
    tune.add_argument("--plot", metavar="PATH", help="write the tuning curve (.png or .svg)")
    tune.add_argument("--shape", action="append", default=[], metavar="NAME=D,D,..")
    tune.add_argument("--threads", type=int, default=None)
    vta = command("vta", "VTA hardware tools")
    vta_sub = vta.add_subparsers(dest="vta_command", required=True)
    explore = vta_sub.add_parser("explore", parents=[flags], epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 help="explore VTA designs for a model on an FPGA part: JSON lines, Pareto plot")
    explore.add_argument("--part", default="pynq-z1", help="pynq-z1 | ultra96 | zcu104 (or the chip's name)")
    explore.add_argument("--model", default="resnet18", help="a zoo model's name, or MODEL.onnx")
    explore.add_argument("--budget", type=_positive, default=200, help="designs to evaluate (default 200)")
    explore.add_argument("-o", "--output", required=True, metavar="DIR",
                         help="where to write results.jsonl, summary.txt, pareto.png and pareto.svg")
    explore.add_argument("--workers", type=int, default=2, help="worker processes (default 2; 0: this one)")
    explore.add_argument("--ray", metavar="ADDRESS", nargs="?", const="", default=None,
                         help="evaluate on Ray (no address: a local Ray)")
    explore.add_argument("--time-limit", type=float, default=None, help="stop after this many seconds")
    explore.add_argument("--seed", type=int, default=0, help="the order the space is walked in")
    cache = command("cache", "the kernel cache: where it is and how big, or empty it")
    cache.add_argument("cache_command", choices=("info", "clear"))
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Run the command line on `argv` (default: `sys.argv[1:]`); return the exit status
    (see `EPILOG`). A frittata error or an unreadable file is one line on stderr, with the
    traceback only under `--debug`."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error (argparse printed it)
        return done.code if isinstance(done.code, int) else 2
    try:
        return _dispatch(args)
    except (FrittataError, OSError) as error:
        if args.debug:
            traceback.print_exc()
        print(f"frittata: error: {_one_line(error)}", file=sys.stderr)
        return 1 if isinstance(error, RuleCheckError) else 2


def _one_line(error: Exception) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error)
    return " ".join(text.split())


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
        case "grad":
            from frittata.autodiff.check import grad_check_main

            return grad_check_main(args.ops, examples=args.examples, seed=args.seed)
        case "onnx":
            from frittata.terms.onnx_check import check_onnx

            coverage = check_onnx(args.model)
            print(coverage)
            return 0 if coverage.supported else 1
        case "bench":
            from frittata.benchmark import run_bench

            return run_bench(args.models, threads=args.threads)
        case "cache":
            return _cache(args.cache_command)
        case "vta":
            return _vta_explore(args)
        case "tune":
            from frittata.tuning.command import run_tune

            return run_tune(_load_model(args.model, args.shape), args.records, args.trials, args.resume, args.ray,
                            args.search, args.threads, args.time_limit, args.plot, args.quiet)
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


def _vta_explore(args: argparse.Namespace) -> int:
    from frittata import vta

    spec = args.model.removeprefix("zoo:")
    model = vta.Workload.from_program(_load_model(spec, []), Path(spec).stem) if spec.endswith(".onnx") else spec
    found = vta.explore(None, model, args.part, budget=args.budget, workers=args.workers,
                        runner="local" if args.ray is None else "ray", address=args.ray or None,
                        time_limit=args.time_limit, seed=args.seed, out=args.output, quiet=args.quiet)
    print(found.summary())
    print(f"wrote {args.output}/results.jsonl, summary.txt, pareto.png, pareto.svg")
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
        module = compile(program, args.target, rules=args.rules, check_rules=args.check_rules,
                         disable=args.disable, threads=args.threads, progress=progress, records=args.records,
                         config=args.vta_config)
    if args.report:
        print(format_report(module.report))
    profile = None
    if args.profile:
        from frittata.terms import zoo

        profile = module.profile(zoo.example_input(program), repeat=args.repeat)
        print(profile)
    if args.show:
        _show(module.program, args.show, args.target, Path(args.model).stem,
              profile.measured() if profile is not None else None)
    if args.output:
        _emit(module, args.emit, Path(args.output))
        if not args.quiet:
            print(f"saved {args.output} ({args.emit}): {module}")
    return 0


def _emit(module, kind: str, path: Path) -> None:
    match kind:
        case "ftm":
            module.save(path)
        case "so" | "c-header" if not hasattr(module, "export_library"):
            raise DeployError(f"--emit {kind}: expected an llvm target's module, got {type(module).__name__}")
        case "so":
            module.export_library(path)
        case "c-header":
            from frittata.backends.export import header_text

            path.write_text(header_text())
        case _:
            raise AssertionError(f"--emit {kind} is not a choice")


def _show(program, path: str, target: str, title: str, measured: dict[int, float] | None) -> None:
    from frittata.backends.registry import get_target
    from frittata.extract.show import program_dot, write_svg

    dot = program_dot(program, target=target, cost_model=get_target(target).cost_model(), title=title,
                      measured=measured)
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
    if args.time:
        from frittata.benchmark import median_ms

        print(f"time: median {median_ms(lambda: module.run(**inputs), repeat=args.repeat):.3f} ms "
              f"over {args.repeat} runs")
    if args.profile:
        print(module.profile(inputs, repeat=args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
