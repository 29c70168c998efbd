"""Training-step time: frittata's compiled train step against PyTorch eager, in the same run.

One step is forward, softmax cross-entropy, backward and an Adam update, for the digits MLP
(64-128-64-10, batch 64) and the small digits CNN (two 3x3 conv stages, batch 32) of
`frittata.autodiff.models`; PyTorch runs the same model with the same initial weights and
torch.optim.Adam. Prints the CPU, compile time, median step times and the ratio frittata /
torch (below 1: frittata is faster), for each thread count given (default: 1 and all cores; both
sides use the same count). On a host shared with other work, the multi-thread figures measure
waits at the kernels' barriers for a descheduled thread more than the kernels.
--digits also runs examples/train_digits.py in full (the accuracy run, 95% / 97% asserted).
Run: python bench/train_bench.py [--repeat N] [--threads T [T ...]] [--digits]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import frittata as ft
from frittata.autodiff.models import classifier, mlp, small_cnn
from frittata.benchmark import median_ms
from frittata.backends.peak import cpu_name

CASES = {"mlp": (mlp, 64, (64,)), "cnn": (small_cnn, 32, (1, 8, 8))}


def batch_of(batch: int, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x": rng.random((batch, *shape)).astype(np.float32),
            "y": np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)]}


def ours(name: str, threads: int, repeat: int) -> tuple[float, float, float]:
    """(compile s, step ms, loss after the timed steps)."""
    build, batch, shape = CASES[name]
    data = batch_of(batch, shape)
    started = time.perf_counter()
    step = ft.optim.TrainStep(classifier(build(batch)), ft.optim.Adam(lr=1e-3)).compile("llvm", threads=threads)
    compile_s = time.perf_counter() - started
    return compile_s, median_ms(lambda: step.step(**data), repeat=repeat, warmup=3), step.step(**data)


def torch_step_ms(name: str, threads: int, repeat: int) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    build, batch, shape = CASES[name]
    model = classifier(build(batch))
    params = {n: torch.tensor(a, requires_grad=True) for n, a in model.params.items()}
    optimizer = torch.optim.Adam(params.values(), lr=1e-3)
    data = {n: torch.tensor(a) for n, a in batch_of(batch, shape).items()}
    forward = _torch_mlp if name == "mlp" else _torch_cnn

    def step() -> None:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(forward(params, data["x"]), data["y"]).backward()
        optimizer.step()

    return median_ms(step, repeat=repeat, warmup=3)


def _torch_mlp(p, x):
    F = sys.modules["torch"].nn.functional
    for i in range(3):
        x = F.linear(x, p[f"fc{i}.w"], p[f"fc{i}.b"])
        x = F.relu(x) if i < 2 else x
    return x


def _torch_cnn(p, x):
    F = sys.modules["torch"].nn.functional
    for i in range(2):
        x = F.max_pool2d(F.relu(F.conv2d(x, p[f"conv{i}.w"], padding=1) + p[f"conv{i}.b"]), 2)
    return F.linear(x.reshape(x.shape[0], -1), p["fc.w"], p["fc.b"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--threads", type=int, nargs="+", default=sorted({1, os.cpu_count() or 1}))
    parser.add_argument("--digits", action="store_true", help="also the full digits training run")
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}")
    print(f"{'model':<6} {'batch':>5} {'threads':>7} {'compile s':>9} {'frittata ms':>11} {'torch ms':>9} "
          f"{'ft/torch':>8}")
    for threads in args.threads:
        for name, (_, batch, _) in CASES.items():
            compile_s, step_ms, _ = ours(name, threads, args.repeat)
            theirs = torch_step_ms(name, threads, args.repeat)
            peer = f"{theirs:9.3f} {step_ms / theirs:8.2f}" if theirs is not None else f"{'n/a':>9} {'':>8}"
            print(f"{name:<6} {batch:>5} {threads:>7} {compile_s:9.1f} {step_ms:11.3f} {peer}")
    if args.digits:
        script = Path(__file__).parent.parent / "examples" / "train_digits.py"
        started = time.perf_counter()
        subprocess.run([sys.executable, str(script)], check=True)
        print(f"digits run (both models, accuracies asserted): {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
