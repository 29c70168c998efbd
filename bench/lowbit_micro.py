"""Port-level microkernels behind the low-bit network's two hot loops on an AVX2 host: the int8
first layer's pair multiply-add against fp32 FMA, and which of the bit-serial table kernel's
vector instructions share execution ports.

Each microkernel is a loop of LLVM IR with its operands in L1, compiled for the host and timed
in one process: every variant runs once per round, rounds interleaved; each prints its rate from
the median of its process CPU time (`time.process_time`) over the rounds, and its rate against
the first case of its group as the median of the per-round ratios. It prints the CPU and:
  * int8 pair multiply-add (`vpmaddwd` + `vpaddd`, 16 products, one broadcast weight pair per
    tile row) against fp32 FMA (8 products), register tiles of rows x vectors, in G
    multiply-adds/s: the int8 convolution kernel's inner loop at its best;
  * VPSHUFB alone, and VPSHUFB alternating with 16-bit shifts (VPSRLW) and with byte adds
    (VPADDB), in G instructions/s: a mix running at VPSHUFB's rate shares its ports.
One Zen 3 core (AMD EPYC, znver3), loaded 7-8, four runs of 21-61 rounds: pmaddwd 6x2 and 5x2
tiles 66-78 G MAC/s, 1.6-2.1x the FMA tiles in the same rounds (FMA 25-49: the loaded runs
spread); VPSHUFB 5.7-6.2 G/s (two a cycle), with VPSRLW 0.99-1.02x that (the shifts take the
shuffle ports), with VPADDB 1.62-1.74x (the adds run beside them).
Run: python bench/lowbit_micro.py [--rounds N]
"""

from __future__ import annotations

import argparse
import ctypes
import time
from collections.abc import Callable

import numpy as np
from llvmlite import binding as llvm

from frittata.backends.jit import host, optimize
from frittata.backends.peak import cpu_name

BYTES, SHORTS = "<32 x i8>", "<16 x i16>"
DECLARATIONS = """declare <8 x i32> @llvm.x86.avx2.pmadd.wd(<16 x i16>, <16 x i16>)
declare <8 x float> @llvm.fma.v8f32(<8 x float>, <8 x float>, <8 x float>)
declare <32 x i8> @llvm.x86.avx2.pshuf.b(<32 x i8>, <32 x i8>)"""
ARGS = 4
"""Pointer arguments of every microkernel (unused ones ignored), then the iteration count."""


def splat(element: str, value: int, count: int) -> str:
    return "<" + ", ".join([f"{element} {value}"] * count) + ">"


class Body:
    """A microkernel's loop body as numbered SSA lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0

    def __call__(self, expression: str) -> str:
        self.count += 1
        name = f"%v{self.count}"
        self.lines.append(f"  {name} = {expression}")
        return name

    def load(self, typ: str, base: str, offset: str | int) -> str:
        return self(f"load {typ}, ptr {self(f'getelementptr i8, ptr {base}, i64 {offset}')}, align 1")


def function(name: str, carried: list[tuple[str, str]], body: Callable[[Body, list[str]], list[str]]) -> str:
    """`name(a, b, c, d, n)`: n iterations of `body`, which maps the loop-carried values (type,
    initial value) to their next values; %m is the iteration number mod 8 (to vary addresses)."""
    b = Body()
    names = [f"%c{i}" for i in range(len(carried))]
    nexts = body(b, names)
    phis = [f"  {n} = phi {t} [{init}, %entry], [{nx}, %loop]" for n, (t, init), nx in zip(names, carried, nexts)]
    stores = [f"  %s{i} = getelementptr {t}, ptr %d, i64 {i}\n  store {t} {n}, ptr %s{i}, align 1"
              for i, ((t, _), n) in enumerate(zip(carried, nexts))]
    return "\n".join([f"define void @{name}(ptr noalias %a, ptr noalias %b, ptr noalias %c, ptr noalias %d, i64 %n) {{",
                      "entry:", "  br label %loop", "loop:", "  %i = phi i64 [0, %entry], [%i1, %loop]", *phis,
                      "  %m = and i64 %i, 7", *b.lines, "  %i1 = add i64 %i, 1", "  %more = icmp ult i64 %i1, %n",
                      "  br i1 %more, label %loop, label %done", "done:", *stores, "  ret void", "}"])


def multiply_add_tile(name: str, rows: int, vectors: int, integer: bool) -> str:
    """A register tile: per iteration `vectors` loads, `rows` broadcast weights, rows x vectors
    pair multiply-adds (`vpmaddwd` + `vpaddd`: 16 int16 products) or FMAs (8 fp32)."""
    vec, scalar = ("<8 x i32>", "i32") if integer else ("<8 x float>", "float")

    def body(b: Body, acc: list[str]) -> list[str]:
        row = b(f"mul i64 %m, {32 * vectors}")
        xs = [b.load(vec, "%a", b(f"add i64 {row}, {32 * v}")) for v in range(vectors)]
        weights = b(f"mul i64 %m, {4 * rows}")
        out = []
        for r in range(rows):
            weight = b.load(scalar, "%b", b(f"add i64 {weights}, {4 * r}"))
            one = b(f"insertelement {vec} poison, {scalar} {weight}, i32 0")
            w = b(f"shufflevector {vec} {one}, {vec} poison, <8 x i32> zeroinitializer")
            for v, x in enumerate(xs):
                a = acc[r * vectors + v]
                if integer:
                    pairs = [b(f"bitcast {vec} {v} to {SHORTS}") for v in (x, w)]
                    product = b(f"call <8 x i32> @llvm.x86.avx2.pmadd.wd({SHORTS} {pairs[0]}, {SHORTS} {pairs[1]})")
                    out.append(b(f"add {vec} {a}, {product}"))
                else:
                    out.append(b(f"call {vec} @llvm.fma.v8f32({vec} {x}, {vec} {w}, {vec} {a})"))
        return out

    return function(name, [(vec, "zeroinitializer")] * (rows * vectors), body)


def shuffle_mix(name: str, other: str | None) -> str:
    """12 chains of 4 dependent steps: VPSHUFB, or VPSHUFB alternating with `other` ("shift": a
    16-bit VPSRLW, "add": a VPADDB of a value loaded per iteration, so that no chain folds)."""

    def body(b: Body, acc: list[str]) -> list[str]:
        index = b.load(BYTES, "%a", b("mul i64 %m, 32"))
        out = []
        for j, value in enumerate(acc):
            for step in range(4):
                if other is None or (j + step) % 2 == 0:
                    value = b(f"call {BYTES} @llvm.x86.avx2.pshuf.b({BYTES} {value}, {BYTES} {index})")
                elif other == "shift":
                    wide = b(f"lshr {SHORTS} {b(f'bitcast {BYTES} {value} to {SHORTS}')}, {splat('i16', 1, 16)}")
                    value = b(f"bitcast {SHORTS} {wide} to {BYTES}")
                else:
                    value = b(f"add {BYTES} {value}, {index}")
            out.append(value)
        return out

    return function(name, [(BYTES, splat("i8", j + 1, 32)) for j in range(12)], body)


TILES = [(6, 2), (5, 2), (4, 3)]
GROUPS = {  # group: {case: (IR maker, its arguments, work per iteration)}; the first case is the baseline
    "G MAC/s": {**{f"fma {r}x{v}": (multiply_add_tile, (r, v, False), 8 * r * v) for r, v in TILES},
                **{f"pmaddwd {r}x{v}": (multiply_add_tile, (r, v, True), 16 * r * v) for r, v in TILES}},
    "G instructions/s": {"vpshufb": (shuffle_mix, (None,), 48), "vpshufb + vpsrlw": (shuffle_mix, ("shift",), 48),
                         "vpshufb + vpaddb": (shuffle_mix, ("add",), 48)},
}
CASES = {case: spec for group in GROUPS.values() for case, spec in group.items()}


def build() -> tuple[llvm.ExecutionEngine, dict[str, str]]:
    """Every case's function, compiled for the host in one module; their symbol names."""
    symbols = {case: f"k{i}" for i, case in enumerate(CASES)}
    text = "\n".join([DECLARATIONS] + [make(symbols[case], *args) for case, (make, args, _) in CASES.items()])
    module = llvm.parse_assembly(text)
    module.verify()
    machine = host()
    optimize(module, machine, speed=3)
    engine = llvm.create_mcjit_compiler(module, machine.machine())
    engine.finalize_object()
    return engine, symbols


def buffer(size: int, seed: int) -> np.ndarray:
    """`size` random bytes starting at a multiple of 64 (like the kernels' parameters), the
    first 4 KiB random float32 in [1, 2) (the FMA tiles' operands: random bytes would make
    denormals and NaNs, which slow the FMAs down)."""
    rng = np.random.default_rng(seed)
    raw = rng.integers(0, 256, size + 64).astype(np.uint8)
    start = -raw.ctypes.data % 64
    data = raw[start:start + size]
    data[:4096] = rng.uniform(1, 2, 1024).astype(np.float32).view(np.uint8)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    machine = host()
    print(f"{cpu_name()}; llvm cpu {machine.cpu}")
    if "+avx2" not in machine.features.split(","):
        print("no AVX2: nothing to measure")
        return
    engine, symbols = build()
    kind = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * ARGS, ctypes.c_int64)
    functions = {case: kind(engine.get_function_address(symbol)) for case, symbol in symbols.items()}
    buffers = [buffer(1 << 16, seed) for seed in range(ARGS)]  # every case's addresses fall inside
    pointers = [b.ctypes.data for b in buffers]
    iterations = 200_000
    seconds: dict[str, list[float]] = {case: [] for case in CASES}
    for _ in range(args.rounds):
        for case, run in functions.items():
            start = time.process_time()
            run(*pointers, iterations)
            seconds[case].append(time.process_time() - start)
    for unit, group in GROUPS.items():
        base = np.array(seconds[next(iter(group))])
        for case, (_, _, work) in group.items():
            rate = work * iterations / float(np.median(seconds[case])) / 1e9
            ratio = float(np.median(base / np.array(seconds[case]) * work / group[next(iter(group))][2]))
            print(f"  {case:<38} {rate:8.1f} {unit:<17} {ratio:5.2f}x the first of its group")

if __name__ == "__main__":
    main()
