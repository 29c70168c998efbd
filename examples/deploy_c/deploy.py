"""Deploy a model as a shared library with a C API, and run it from C.

    python examples/deploy_c/deploy.py [--model resnet18] [--target "llvm -mtriple=aarch64-linux-gnu"]

compiles a built-in model, writes `model.so` and `frittata_model.h` with `export_library`,
builds `run_model.c` (this directory) against them with the target's C compiler, runs it (an
AArch64 build under `qemu-aarch64`), and checks its outputs against frittata's reference
interpreter. The directory it works in is printed; everything a C user needs is in it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import frittata as ft
from frittata.backends.export import default_compiler
from frittata.backends.jit import host
from frittata.terms import zoo

HERE = Path(__file__).parent
QEMU = {"aarch64": ("qemu-aarch64", "/usr/aarch64-linux-gnu")}
"""Emulator and sysroot of each foreign architecture the runner can be started under."""


def build_runner(module, directory: Path, library: Path | None = None) -> Path:
    """The runner linked against `library` (by default model.so, exported into `directory`
    with its header beside it)."""
    library = library or module.export_library(directory / "model.so")
    shutil.copyfile(HERE / "run_model.c", directory / "run_model.c")
    compiler = default_compiler(module.triple)
    runner = directory / "run_model"
    subprocess.run([compiler, "-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L", f"-I{directory}",
                    str(directory / "run_model.c"), str(library), "-Wl,-rpath,$ORIGIN", "-o", str(runner)],
                   check=True, capture_output=True, text=True)
    return runner


def command(runner: Path, arch: str) -> list[str]:
    """How to start `runner`: directly on this architecture, else under its emulator."""
    if arch == host().arch:
        return [str(runner)]
    emulator, sysroot = QEMU[arch]
    return [emulator, "-L", sysroot, str(runner)]


def run_from_c(module, inputs: dict[str, np.ndarray], directory: Path, repeat: int = 1,
               threads: int = 1, library: Path | None = None) -> tuple[dict[str, np.ndarray], str]:
    """The module's outputs computed by the C runner (on `library`, exported into `directory`
    when not given), and what it printed."""
    runner = build_runner(module, directory, library)
    for name, array in inputs.items():
        np.ascontiguousarray(array, dtype=module.inputs[name].dtype).tofile(directory / f"{name}.bin")
    arch = module.triple.split("-", 1)[0]
    done = subprocess.run([*command(runner, arch), str(directory), str(repeat), str(threads)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"run_model failed ({done.returncode}): {done.stderr}")
    outputs = {name: np.fromfile(directory / f"{name}.out", dtype=t.dtype).reshape(t.shape)
               for name, t in module.outputs.items()}
    return outputs, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18", help="a built-in model (frittata.terms.zoo)")
    parser.add_argument("--target", default="llvm", help='"llvm" (this machine) or "llvm -mtriple=..."')
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    program = zoo.get(args.model)
    inputs = zoo.example_input(program)
    module = ft.compile(program, target=args.target)
    directory = Path(tempfile.mkdtemp(prefix="frittata-deploy-"))
    outputs, printed = run_from_c(module, inputs, directory, args.repeat)
    expected = ft.evaluate(program, inputs)
    for name, value in outputs.items():
        error = float(np.max(np.abs(value - expected[name])))
        assert error < 1e-3 * max(1.0, float(np.max(np.abs(expected[name])))), (name, error)
        print(f"{name}: max |C - interpreter| = {error:.2e}")
    print(f"{args.model} for {args.target!r} from C: {printed}; files in {directory}")


if __name__ == "__main__":
    main()
