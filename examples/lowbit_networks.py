"""Binarized networks end to end: a VGG-11-style and a ResNet-18-style network with random
weights, quantized to 1-bit weights and 2-bit activations (first and last layers int8),
compiled for the CPU, where the middle layers run on bit-serial popcount kernels, and checked
bit-exact against the reference interpreter.

    python examples/lowbit_networks.py           # VGG-11 at 64x64, ResNet-18 at 64x64
    python examples/lowbit_networks.py --quick   # VGG-11 at 32x32, ResNet-10 at 32x32 (CI)
"""

import sys
import time

import numpy as np

import frittata as ft
from frittata.terms import zoo

BITS = {"weights": 1, "activations": 2}


def run(name: str, program: ft.Program, rng: np.random.Generator) -> None:
    shape = program.inputs["x"].shape
    calibration = [{"x": rng.standard_normal(shape).astype(np.float32)} for _ in range(2)]
    low = ft.quantize(program, calibration, bits=BITS)
    start = time.perf_counter()
    module = ft.compile(low, target="llvm")
    seconds = time.perf_counter() - start
    kernels = module.report["backend"]["kernels"]
    bitserial = sum(k.endswith("bitserial_conv2d") for k in kernels)
    x = {"x": rng.standard_normal(shape).astype(np.float32)}
    got, want = module.run(**x)["y"], ft.evaluate(low, x)["y"]
    assert np.array_equal(got, want), f"{name}: compiled differs from the interpreter"
    assert bitserial > 0, f"{name}: expected bit-serial convolutions, got kernels {kernels}"
    agreement = np.corrcoef(got.ravel(), ft.evaluate(program, x)["y"].ravel())[0, 1]
    print(f"{name}: {bitserial} bit-serial convolutions of {len(kernels)} kernels, compiled in {seconds:.1f} s, "
          f"bit-exact with the interpreter; correlation with the float network {agreement:.2f}")


def main(quick: bool) -> None:
    rng = np.random.default_rng(0)
    size = 32 if quick else 64
    run("VGG-11-style W1A2", zoo.vgg11(size=size, classes=10), rng)
    blocks = (1, 1, 1, 1) if quick else (2, 2, 2, 2)
    depth = 2 + 2 * sum(blocks)  # two convolutions per basic block, the stem and the classifier
    run(f"ResNet-{depth}-style W1A2", zoo.resnet18(blocks=blocks, size=size), rng)


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
