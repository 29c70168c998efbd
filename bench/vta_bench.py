"""VTA lowering benchmark, at the 224x224 sizes of ResNet-18.

Per conv layer (C1 the stem, its 3 input channels padded to 16 as the padding rules do; C2-C11
as in TVM's VTA test suite), the `vta_conv2d` term lowered by `frittata.backends.vta.lower` with
bias + requantize epilogue: compile (emission) time, the tiling, simulated cycles and GEMM
utilization with one and with two virtual threads (double buffering).  Then whole networks at
1x3x224x224 (the zoo ResNet-18 and MobileNetV2, and torchvision's ResNet-18 exported with
`torch.onnx.export`), quantized, compiled for VTA and run on the simulator over a batch of
inputs: bit-exactness and top-1 agreement with the float model, the per-layer report
(`module.layer_report()`) and the end-to-end simulated latency at the configuration's clock
with the host's share.  Every result is checked bit-exact against the reference
interpreter.  TVM publishes no ResNet-18 latency for this configuration in text (its blog has
plots only), so there is no published figure to put beside ours.

Run: `python bench/vta_bench.py` (`--layers` for the layer table only, `--networks` for the
whole networks only, then optionally names among resnet18, mobilenet_v2, torch_resnet18).  Goals (issue 19):
>= 90% GEMM utilization on the 3x3 layers, >= 70% on the 1x1 stride-2 ones.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import frittata as ft

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.dram import Dram
from frittata.backends.vta.lower import config_block, emit_vta_term
from frittata.backends.vta.lower_conv2d import ConvTiling
from frittata.backends.vta.tile_search import search_conv_schedule
from frittata.backends.vta.hw.simulator import Simulator
from frittata.terms import builders as tb
from frittata.terms.interp import evaluate
from frittata.terms.program import Program
from frittata.terms import zoo

RESNET18 = {  # name: (H=W, C, O, K, pad, stride)
    "C1": (224, 16, 64, 7, 3, 2),
    "C2": (56, 64, 64, 3, 1, 1), "C3": (56, 64, 128, 3, 1, 2), "C4": (56, 64, 128, 1, 0, 2),
    "C5": (28, 128, 128, 3, 1, 1), "C6": (28, 128, 256, 3, 1, 2),
    "C7": (28, 128, 256, 1, 0, 2), "C8": (14, 256, 256, 3, 1, 1),
    "C9": (14, 256, 512, 3, 1, 2), "C10": (14, 256, 512, 1, 0, 2),
    "C11": (7, 512, 512, 3, 1, 1),
}
EPILOGUE = (("shift", 8), ("clip", -127, 127), ("relu",), ("cast", "int8"))
SEARCH_BUDGET = 8


def layer(name: str, cfg: VtaConfig, rng: np.random.Generator):
    """The layer's term and its packed operands."""
    hw, c, o, k, pad, stride = RESNET18[name]
    block = config_block(cfg)
    x = rng.integers(-128, 128, (cfg.batch, c, hw, hw)).astype(np.int8)
    w = rng.integers(-128, 128, (o, c, k, k)).astype(np.int8)
    bias = rng.integers(-2 ** 14, 2 ** 14, o).astype(np.int32)
    node = tb.vta_conv2d(tb.vta_pack(tb.var("x", x.shape, "int8"), "act", block),
                         tb.vta_pack(tb.param("w", w), "wgt", block), tb.param("b", bias),
                         (stride, stride), (pad,) * 4, EPILOGUE, block)
    args = [evaluate(Program({"a": a}), {n: x for n in Program({"a": a}).inputs})["a"]
            for a in node.args]
    return node, args, x


def run(node, args, cfg: VtaConfig, threads: int, tiling: ConvTiling | None = None):
    """(emit seconds, report, packed output) of one lowering and simulation."""
    sim = Simulator(cfg, Dram())
    start = time.perf_counter()
    lowered = emit_vta_term(node, args, cfg, sim.machine.dram, threads, tiling)
    image = lowered.program.image()
    emit = time.perf_counter() - start
    report = sim.run(image)
    return emit, report, lowered.read(sim.machine.dram)


def epilogue_bound(name: str) -> float:
    """The GEMM utilization no schedule of the layer can pass on the compute module: per output
    ACC row, its C/16 * K * K GEMM micro-ops against 6 cycles that are not GEMM work (reset 1,
    bias ADD with a tensor operand 2, shift, MIN and MAX 1 each), all on the in-order compute
    module (VTA's pipeline: GEMM one uop per cycle, ALU 1 with an immediate, 2 with a tensor)."""
    _, c, _, k, _, _ = RESNET18[name]
    gemm = c // 16 * k * k
    return gemm / (gemm + 6)


def layers() -> None:
    cfg, rng = VtaConfig(), np.random.default_rng(0)
    print(f"VTA {cfg.name}: vta_conv2d + bias + requantize, lowered and simulated; 'searched' is the "
          f"fastest of {SEARCH_BUDGET} tilings per thread count by the cycle model (tile_search)")
    print(f"{'layer':<6} {'compile':>9} {'tile th,tw,tco,tci':>19} {'cycles 1T':>11} {'util 1T':>8} "
          f"{'cycles 2T':>11} {'util 2T':>8} {'ms 2T':>7}  {'searched':>19} {'cycles':>11} {'util':>6} "
          f"{'bound':>6}  check")
    for name in RESNET18:
        node, args, x = layer(name, cfg, rng)
        want = evaluate(Program({"y": node}), {"x": x})["y"]
        _, one, out1 = run(node, args, cfg, threads=1)
        emit, two, out2 = run(node, args, cfg, threads=2)
        tiling = emit_vta_term(node, args, cfg, Dram()).tiling
        tile = f"{tiling.th},{tiling.tw},{tiling.tco},{tiling.tci}"
        found = search_conv_schedule(node, cfg, SEARCH_BUDGET).best
        _, best, out3 = run(node, args, cfg, found.threads, found.tiling)
        t = found.tiling
        searched = f"{t.th},{t.tw},{t.tco},{t.tci} {found.threads}T"
        exact = all(np.array_equal(out, want) for out in (out1, out2, out3))
        print(f"{name:<6} {emit * 1e3:7.1f}ms {tile:>19} {one.cycles:>11,} {one.gemm_utilization:8.1%} "
              f"{two.cycles:>11,} {two.gemm_utilization:8.1%} {two.cycles / cfg.clock_hz * 1e3:7.2f}  "
              f"{searched:>19} {best.cycles:>11,} {best.gemm_utilization:6.1%} {epilogue_bound(name):6.1%}  "
              f"{'ok' if exact else 'MISMATCH'}")


def torch_resnet18(folder: str) -> ft.Program:
    """torchvision's ResNet-18 with random weights (never downloaded) and random batch-norm
    statistics, exported by `torch.onnx.export` as a user would, imported from the file."""
    import torch
    import torchvision

    generator = torch.Generator().manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.copy_(0.5 + torch.rand(module.weight.shape, generator=generator))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
                module.running_mean.copy_(0.1 * torch.randn(module.running_mean.shape, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(module.running_var.shape, generator=generator))
    path = f"{folder}/resnet18.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, 224, 224),), path, dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["y"])
    return ft.from_onnx(path)


def network(name: str, program: ft.Program, batch: int) -> None:
    """`program` at 1x3x224x224 quantized (two calibration inputs), compiled for the simulated
    default VTA and run on `batch` other inputs: per input, bit-exact against the interpreter
    on the quantized program or not, and the top-1 class against the float model's (compiled
    for this CPU), with the float top-1 in the quantized top 5 and the logits' relative error;
    on the first input, every VTA call checked against the interpreter on the operands it was
    fed (`check_calls`).  Prints the layer report of the last run."""
    rng = np.random.default_rng(0)
    (x_name, x_type), = program.inputs.items()
    (y_name, _), = program.outputs.items()
    images = [{x_name: rng.standard_normal(x_type.shape).astype(np.float32)} for _ in range(batch + 2)]
    start = time.perf_counter()
    quantized = ft.quantize(program, images[:2])
    module = ft.compile(quantized, target="vta")
    built = time.perf_counter()
    reference = ft.compile(program, target="llvm")
    calls = module.check_calls(**images[2])
    exact, top1, top5, errors, run_seconds, worst = 0, 0, 0, [], [], 0.0
    for image in images[2:]:
        before = time.perf_counter()
        got = module.run(**image)[y_name]
        run_seconds.append(time.perf_counter() - before)
        want = ft.evaluate(quantized, image)[y_name]
        exact += np.array_equal(got, want)
        worst = max(worst, float(np.abs(got.astype(np.float64) - want).max()))
        floats = reference.run(**image)[y_name].reshape(-1)
        top1 += int(np.argmax(got) == np.argmax(floats))
        top5 += int(np.argmax(floats) in np.argsort(got.reshape(-1))[-5:])
        errors.append(float(np.linalg.norm(got.reshape(-1) - floats) / np.linalg.norm(floats)))
    print(f"\n{name} 1x3x224x224, quantized: quantize + compile {built - start:.1f} s, one simulated "
          f"run {np.median(run_seconds):.1f} s wall (median of {batch}), {len(module.calls)} VTA calls, "
          f"{sum(calls)}/{len(calls)} bit-exact on the operands they were fed; whole output bit-exact "
          f"against the interpreter on {exact}/{batch} inputs (largest difference {worst:.3g}); against "
          f"the float model: top-1 equal on {top1}/{batch}, float top-1 in the top 5 on {top5}/{batch}, "
          f"logits' relative error median {np.median(errors):.3f}")
    print(module.layer_report())


def networks(batch: int, names: list[str]) -> None:
    """The zoo ResNet-18 and MobileNetV2 and a torch-exported ResNet-18, all at 224x224 (those
    of `names` among "resnet18", "mobilenet_v2", "torch_resnet18"; all when empty)."""
    import tempfile

    if not names or "resnet18" in names:
        network("zoo ResNet-18", zoo.resnet18(), batch)
    if not names or "mobilenet_v2" in names:
        network("zoo MobileNetV2", zoo.mobilenet_v2(), batch)
    if not names or "torch_resnet18" in names:
        with tempfile.TemporaryDirectory() as folder:
            network("torchvision ResNet-18 (torch.onnx.export)", torch_resnet18(folder), batch)


def main() -> None:
    if "--networks" not in sys.argv:
        layers()
    if "--layers" not in sys.argv:
        networks(8, [a for a in sys.argv[1:] if not a.startswith("--")])


if __name__ == "__main__":
    main()
