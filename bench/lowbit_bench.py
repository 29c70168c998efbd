"""Low-bit (bit-serial) convolutions and a low-bit VGG-11-style network against frittata fp32 and
int8 and onnxruntime fp32, measured in the same run on 1 and 2 threads.

Prints the CPU and its vector ISA, then median latencies and ratios (peer / ours: above 1 means
the low-bit form is faster), every form of a case timed in interleaved rounds, and on one thread
the median CPU time of the process as well (on a shared machine the wall time also counts other
processes' time slices; the CPU time does not):
  * the 3x3 convolutions of ResNet-18 (batch 1, 224x224 input) as fp32 conv2d, int8 conv2d,
    A1W1 and A2W1 bitserial_conv2d over 64-bit words (the run-time bitpack of the activations
    included), and onnxruntime's fp32 Conv;
  * a VGG-11-style network (`zoo.vgg11`: VGG-11's convolutions with batch norm, a global pool
    and one dense layer) compiled in fp32, quantized to int8 (`ft.quantize`), and to W1A1 and
    W1A2 (`ft.quantize(..., bits=...)`, first and last layers int8), and onnxruntime fp32.
The issue's goal: W1A2 >= 3x faster than our fp32 whole network, W1A1 >= 5x.
With --breakdown, the network's time by kind of kernel instead -- bit-serial convolutions, other
convolutions (the 8-bit first layer; every layer in fp32), bitpack, max pools, elementwise glue
and the rest -- and each bit-serial layer's, on one thread: the kernels' shares of their median
wall times (`module.profile`) times the median CPU time of a whole run. Under load a kernel of
several milliseconds is rarely timed without a preemption, so its shortest wall time is no
better than its median; preemptions fall on the kernels in proportion to their length, so the
shares of the medians hold.
Run: python bench/lowbit_bench.py [--repeat N] [--size S] [--skip-layers] [--skip-network] [--breakdown]
"""

from __future__ import annotations

import argparse
import collections
import time

import numpy as np
import onnxruntime as ort

import frittata as ft
from frittata import terms as T
from frittata.backends.jit import host
from frittata.backends.peak import cpu_name
from frittata.terms import zoo
from frittata.terms.onnx_export import to_onnx

RESNET18_CONVS = [  # (in channels, out channels, input size, stride): ResNet-18's 3x3 convolutions
    (64, 64, 56, 1), (64, 128, 56, 2), (128, 128, 28, 1), (128, 256, 28, 2), (256, 256, 14, 1),
    (256, 512, 14, 2), (512, 512, 7, 1)]
THREADS = (1, 2)
SLOW_S = 1.0


def cpu() -> str:
    """The CPU's name, the llvm target and whether it has a vector popcount."""
    target = host()
    popcount = "VPOPCNTQ" if "+avx512vpopcntdq" in target.features.split(",") else "nibble-lookup (VPSHUFB)"
    return f"{cpu_name()}; {target.lanes} fp32 lanes, popcount {popcount}"


def ort_run(program: ft.Program, inputs: dict, threads: int):
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(to_onnx(program).SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return lambda: session.run(None, inputs)


def ours_run(program: ft.Program, inputs: dict, threads: int):
    module = ft.compile(program, target="llvm", threads=threads)
    return lambda: module.run(**inputs)


def interleaved_ms(runs: dict, repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall ms and median process CPU ms of each run, measured in rounds (per round, each
    run called twice and the second call timed, so that it is warm) so that the load of a shared
    machine falls on all of them alike; a run slower than SLOW_S gets 3 rounds."""
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu_time: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        run()
    for round_ in range(repeat):
        for name, run in runs.items():
            if round_ >= 3 and wall[name] and min(wall[name]) > SLOW_S:
                continue
            run()  # warm again: the previous form's run has left the caches to itself
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[name].append(time.perf_counter() - start)
            cpu_time[name].append(time.process_time() - start_cpu)
    return ({name: float(np.median(t)) * 1e3 for name, t in wall.items()},
            {name: float(np.median(t)) * 1e3 for name, t in cpu_time.items()})


def kinds(wall: dict, cpu_ms: dict, threads: int) -> list[tuple[str, dict]]:
    """The medians to print: wall time, and on one thread the CPU time too (on two, the process's
    CPU time adds both threads' work and says nothing of the latency)."""
    return [("wall", wall), ("cpu", cpu_ms)] if threads == 1 else [("wall", wall)]


def conv_forms(cin: int, cout: int, size: int, stride: int, rng: np.random.Generator) -> dict:
    """fp32, int8, A1W1 and A2W1 forms of one convolution, with their inputs."""
    xf = rng.standard_normal((1, cin, size, size)).astype(np.float32)
    wf = (rng.standard_normal((cout, cin, 3, 3)) * 0.05).astype(np.float32)
    codes = rng.integers(0, 2, (cout, cin, 3, 3)).astype(np.int8)
    packed = T.param("w", T.evaluate(T.bitpack(T.var("c", codes.shape, "int8"), 1, 1), {"c": codes}))
    forms = {
        "fp32": (T.conv2d(T.var("x", xf.shape), T.param("w", wf), stride, 1), xf),
        "int8": (T.conv2d(T.var("x", xf.shape, "int8"), T.param("w", (wf * 1000).astype(np.int8)), stride, 1),
                 rng.integers(-127, 128, xf.shape).astype(np.int8)),
    }
    for bits in (1, 2):
        x = T.bitpack(T.var("x", xf.shape, "int8"), bits, 1)
        forms[f"A{bits}W1"] = (T.bitserial_conv2d(x, packed, stride, 1, encoding="bipolar"),
                               rng.integers(0, 1 << bits, xf.shape).astype(np.int8))
    return {name: (ft.Program({"y": term}), {"x": data}) for name, (term, data) in forms.items()}


def bench_layers(repeat: int) -> None:
    rng = np.random.default_rng(0)
    print("\nResNet-18 3x3 convolutions, ms (median); ratio = fp32 / low-bit")
    for cin, cout, size, stride in RESNET18_CONVS:
        forms = conv_forms(cin, cout, size, stride, rng)
        for threads in THREADS:
            runs = {name: ours_run(p, x, threads) for name, (p, x) in forms.items()}
            wall, cpu_ms = interleaved_ms({**runs, "ort": ort_run(*forms["fp32"], threads)}, repeat)
            for kind, ms in kinds(wall, cpu_ms, threads):
                onnx = ms["ort"]
                print(f"  {cin:>3}->{cout:<3} {size:>3}x{size:<3} s{stride} {threads}T {kind:<4}: "
                      f"fp32 {ms['fp32']:7.3f}  int8 {ms['int8']:8.3f}  A1W1 {ms['A1W1']:6.3f}  "
                      f"A2W1 {ms['A2W1']:6.3f}  ort {onnx:7.3f}  "
                      f"| A1W1 {ms['fp32'] / ms['A1W1']:5.2f}x ({onnx / ms['A1W1']:5.2f}x ort)  "
                      f"A2W1 {ms['fp32'] / ms['A2W1']:5.2f}x ({onnx / ms['A2W1']:5.2f}x ort)")


def bench_network(size: int, repeat: int) -> None:
    forms, x = network_forms(size)
    program = forms["fp32"]
    print(f"\nVGG-11-style network at {size}x{size}, ms (median); ratio = fp32 / low-bit")
    for threads in THREADS:
        runs = {name: ours_run(p, x, threads) for name, p in forms.items()}
        wall, cpu_ms = interleaved_ms({**runs, "ort": ort_run(program, x, threads)}, repeat)
        for kind, ms in kinds(wall, cpu_ms, threads):
            onnx = ms["ort"]
            print(f"  {threads}T {kind:<4}: fp32 {ms['fp32']:8.2f}  int8 {ms['int8']:8.2f}  W1A1 {ms['W1A1']:8.2f}  "
                  f"W1A2 {ms['W1A2']:8.2f}  ort fp32 {onnx:8.2f}  | W1A1 {ms['fp32'] / ms['W1A1']:5.2f}x "
                  f"({onnx / ms['W1A1']:5.2f}x ort)  W1A2 {ms['fp32'] / ms['W1A2']:5.2f}x "
                  f"({onnx / ms['W1A2']:5.2f}x ort)  goal W1A2 >= 3x, W1A1 >= 5x")


def network_forms(size: int) -> tuple[dict[str, ft.Program], dict[str, np.ndarray]]:
    """The VGG-11-style network in fp32, int8, W1A1 and W1A2, and its input."""
    rng = np.random.default_rng(0)
    program = zoo.vgg11(size=size)
    x = {"x": rng.standard_normal(program.inputs["x"].shape).astype(np.float32)}
    calibration = [x]
    return {"fp32": program, "int8": ft.quantize(program, calibration),
            "W1A1": ft.quantize(program, calibration, bits={"weights": 1, "activations": 1}),
            "W1A2": ft.quantize(program, calibration, bits={"weights": 1, "activations": 2})}, x


def kernel_kind(op: str) -> str:
    """The kind of kernel an op's row of a profile is counted under."""
    if op == "bitserial_conv2d":
        return "bit-serial conv"
    if "conv" in op:
        return "other conv"
    if op in ("bitpack", "fused_elementwise"):
        return {"bitpack": "bitpack", "fused_elementwise": "elementwise glue"}[op]
    return "max pool" if op == "max_pool2d" else "rest"


def bench_breakdown(size: int, repeat: int) -> None:
    forms, x = network_forms(size)
    print(f"\nVGG-11-style network at {size}x{size}, one thread: each kind's share of the kernels' median "
          f"wall times ({repeat} profiled runs) times the median CPU time of a whole run")
    for name in ("fp32", "W1A1", "W1A2"):
        module = ft.compile(forms[name], target="llvm", threads=1)
        rows = module.profile(x, repeat=repeat).rows
        cpu_ms = interleaved_ms({name: lambda module=module: module.run(**x)}, repeat)[1][name]
        sums: collections.Counter[str] = collections.Counter()
        for row in rows:
            sums[kernel_kind(row.op)] += row.seconds
        scale = cpu_ms / sum(sums.values())
        shares = "  ".join(f"{k} {s * scale:.2f} ({100 * s * scale / cpu_ms:.1f}%)" for k, s in sums.most_common())
        print(f"  {name}: {cpu_ms:.2f} ms CPU = {shares}")
        layers = [f"{row.seconds * scale:.2f}" for row in rows if row.op == "bitserial_conv2d"]
        if layers:
            print(f"    bit-serial layers, ms: {' '.join(layers)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--size", type=int, default=224, help="VGG input size (a multiple of 32)")
    parser.add_argument("--skip-layers", action="store_true")
    parser.add_argument("--skip-network", action="store_true")
    parser.add_argument("--breakdown", action="store_true", help="only the network's time per kind of kernel")
    args = parser.parse_args()
    print(cpu())
    if args.breakdown:
        bench_breakdown(args.size, args.repeat)
        return
    if not args.skip_layers:
        bench_layers(args.repeat)
    if not args.skip_network:
        bench_network(args.size, args.repeat)


if __name__ == "__main__":
    main()
