"""Compile and load time of the zoo models, ResNet-50 and an EfficientNet-style model, per stage.

For each model: a cold compile (empty caches), split into saturate / extract / fold / build, and
the build into emit (planning and Python IR building, while worker processes already compile
the kernels emitted), compile (the wait for LLVM's optimizer and code generation after
emission) and link; a warm compile (the compile cache the cold one filled: lookup and
load); a kernel-warm compile (the compile cache emptied, the kernel cache kept: saturation,
extraction and emission again, no LLVM work); then the saved file's size and its load time
(`frittata.load`, in this process), and the run time of the compiled module (median of 20 runs)
to check it did not change. `cpu` is the CPU seconds of the stages (this process's and its build
workers'), `build_cpu` the build's: on a shared machine these do not count the other users. Goals for
ResNet-18 / ResNet-50 on 2 cores: cold < 5 s / < 15 s, warm < 1 s, load < 0.5 s. The machine
is shared, so every figure is the median over --repeat rounds; print the CPU with it. The
bench keeps its caches in a temporary folder of its own (so the cold compile is cold), whatever
FRITTATA_CACHE and FRITTATA_CACHE_DIR say.

Run: python bench/compile_bench.py [--models resnet18 resnet50 ...] [--repeat 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import frittata as ft
from frittata.backends.jit import host
from frittata.terms import zoo

MODELS = [*zoo.ZOO, *zoo.LARGE]
STAGES = ("saturate", "extract", "fold", "build")
BUILD_PARTS = ("emit_wall_s", "compile_wall_s", "link_wall_s")


def compile_once(program: ft.Program, threads: int | None) -> tuple[dict[str, float], object]:
    start = time.perf_counter()
    module = ft.compile(program, "llvm", threads=threads)
    total = time.perf_counter() - start
    stages = module.report["stages"]
    if "cached" in module.report:  # the report keeps the stages of the compile that filled the entry
        cpu = {"cpu": sum(stages[name].get("cpu_seconds", 0.0) for name in ("cache", "load"))}
        return {"cache": stages["cache"]["seconds"], "load": stages["load"]["seconds"], "total": total} | cpu, module
    cpu = {"cpu": sum(stage.get("cpu_seconds", 0.0) for stage in stages.values())}
    figures = {name: stages[name]["seconds"] for name in STAGES if name in stages}
    figures |= {part: stages["build"][part] for part in BUILD_PARTS}
    build = stages["build"]
    figures |= {"build_cpu": build["cpu_seconds"], "total": total, "distinct": build["distinct_kernels"],
                "steps": len(build["kernels"])} | cpu
    return figures, module


def load_once(path: Path) -> float:
    start = time.perf_counter()
    ft.load(path)
    return time.perf_counter() - start


def bench(name: str, repeat: int, threads: int | None) -> None:
    program = zoo.get(name)
    inputs = zoo.example_input(program)
    rounds: dict[str, list[dict[str, float]]] = {"cold": [], "warm": [], "kernel-warm": []}
    loads, runs, size = [], [], 0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            os.environ["FRITTATA_CACHE_DIR"] = cache
            os.environ["FRITTATA_CACHE"] = "1"
            for kind in rounds:
                if kind == "kernel-warm":
                    shutil.rmtree(Path(cache) / "compiles")
                figures, module = compile_once(program, threads)
                rounds[kind].append(figures)
            path = Path(cache) / f"{name}.ftm"
            module.save(path)
            size = path.stat().st_size
            loads.append(load_once(path))
            runs.append(module.benchmark(inputs)["median_ms"])
    params = sum(a.nbytes for a in program.params.values())
    print(f"{name}: {rounds['cold'][0]['steps']} kernel steps, {rounds['cold'][0]['distinct']} distinct; "
          f"file {size / 1e6:.1f} MB for {params / 1e6:.1f} MB of parameters")
    for kind, figures in rounds.items():
        median = {key: statistics.median(f[key] for f in figures) for key in figures[0]}
        cells = "  ".join(f"{key} {median[key]:6.2f}"
                          for key in (*STAGES, *BUILD_PARTS, "build_cpu", "cache", "load", "total", "cpu")
                          if key in median)
        print(f"  {kind:<11} {cells}  (s)")
    print(f"  load {statistics.median(loads):.3f} s, run {statistics.median(runs):.2f} ms (median of {repeat})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["resnet18", "resnet50"], choices=MODELS)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    target = host()
    print(f"CPU {target.cpu} ({target.lanes} fp32 lanes), {os.cpu_count()} cores; shared machine: medians "
          f"of {args.repeat} round(s)")
    for name in args.models:
        bench(name, args.repeat, args.threads)


if __name__ == "__main__":
    main()
