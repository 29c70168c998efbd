"""Each deployment target from one lowering: compile time, code size and run time.

For every model and target: the compile time (ft.compile, caches off), the export time and size
of the deployable artifact (host and AArch64: the shared library with the C API, parameters
included; wasm32: the .wasm with its .params; NVPTX: the PTX text of every kernel), and the run
time where it runs here:
  host     the C runner (examples/deploy_c/run_model.c) on the library, native;
  aarch64  the same runner cross-built, under qemu-aarch64: EMULATED, not comparable with native;
  wasm32   wasmtime's Python API (one thread, SIMD128);
  nvptx    not run (no GPU): PTX emitted and, when ptxas is installed, assembled.
The machine is shared: run times are medians of --repeat runs; the CPU is printed.

Run: python bench/targets_bench.py [--models mlp small_cnn resnet18] [--repeat 5]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import statistics
import tempfile
import time
from pathlib import Path

import frittata as ft
from frittata.backends.jit import host
from frittata.terms import zoo

TARGETS = {
    "host": "llvm",
    "aarch64": "llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a72",
    "wasm32": "llvm -mtriple=wasm32-unknown-unknown -mattr=+simd128,+bulk-memory",
    "nvptx": None,
}
ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def _deploy_example():
    spec = importlib.util.spec_from_file_location("deploy", ROOT / "examples" / "deploy_c" / "deploy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def measure(name: str, target: str, repeat: int, work: Path) -> str:
    program = zoo.get(name)
    inputs = zoo.example_input(program)
    start = time.perf_counter()
    if target == "nvptx":
        from frittata.backends.ptx import assemble, emit_ptx

        optimized = ft.compile(program).program
        assert optimized is not None
        compiled = time.perf_counter() - start
        kernels = emit_ptx(optimized)
        exported = time.perf_counter() - start - compiled
        for ptx in kernels.values():
            assemble(ptx)
        size = sum(len(p) for p in kernels.values())
        return (f"{name:10s} {target:8s} compile {compiled:6.2f} s  emit {exported:5.2f} s  "
                f"{size / 1e3:9.1f} kB PTX ({len(kernels)} kernels, assembled)  run: no GPU")
    module = ft.compile(program, target=TARGETS[target])
    compiled = time.perf_counter() - start
    if target == "wasm32":
        from frittata.backends.wasm import WasmModule

        path = module.export_wasm(work / f"{name}.wasm")
        exported = time.perf_counter() - start - compiled
        runner = WasmModule(path)
        runner.run(**inputs)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            runner.run(**inputs)
            times.append((time.perf_counter() - t0) * 1e3)
        run = f"{statistics.median(times):9.3f} ms (wasmtime)"
    else:
        directory = work / f"{name}-{target}"
        directory.mkdir()
        path = module.export_library(directory / "model.so")
        exported = time.perf_counter() - start - compiled
        _, printed = _deploy_example().run_from_c(module, inputs, directory, repeat=repeat, library=path)
        label = "EMULATED (qemu)" if target == "aarch64" else "native, C"
        run = f"{float(printed.split()[1]):9.3f} ms ({label})"
    return (f"{name:10s} {target:8s} compile {compiled:6.2f} s  export {exported:5.2f} s  "
            f"{_size(path) / 1e6:8.2f} MB  run {run}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mlp", "small_cnn", "resnet18"])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ["FRITTATA_CACHE"] = "0"
    machine = host()
    print(f"# host {machine.cpu} ({machine.triple}, {machine.lanes} fp32 lanes); run times are medians of "
          f"{args.repeat} on 1 thread")
    with tempfile.TemporaryDirectory(prefix="frittata-targets-") as scratch:
        for name in args.models:
            for target in args.targets:
                if target == "aarch64" and name == "resnet18":
                    print(f"{name:10s} {target:8s} skipped: minutes under emulation")
                    continue
                print(measure(name, target, args.repeat, Path(scratch)), flush=True)


if __name__ == "__main__":
    main()
