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
    (VPADDB), in G instructions/s: a mix running at VPSHUFB's rate shares its ports;
  * the one-plane table kernel's word step against weight-indexed table steps, in G bit
    products/s (a lookup is 256: two 4-bit fields of 32 bytes, 4 bits an index; both sum runs
    of 3 lookups into counters C and U, no flushes): activation-indexed (the kernel: table rows
    from a pixel pair's nibbles by scalar shifts, ANDs and a load, weight nibbles as memory
    operands, pair x 2 or 4 blocks), and weight-indexed (tables of channel pairs built from the
    weights, loaded per nibble position, shuffled by vectors of 32 pixels' activation nibbles:
    vectors x pairs a step; nibbles one a byte in memory, or packed and split in registers),
    the U shift also as a multiply (VPMULHUW by 4096) to take it off the shuffle ports.
One Zen 3 core (AMD EPYC, znver3), loaded 7-8, four runs of 21-61 rounds: pmaddwd 6x2 and 5x2
tiles 66-78 G MAC/s, 1.6-2.1x the FMA tiles in the same rounds (FMA 25-49: the loaded runs
spread); VPSHUFB 5.7-6.2 G/s (two a cycle), with VPSRLW 0.99-1.02x that (the shifts take the
shuffle ports), with VPADDB 1.62-1.74x (the adds run beside them). Table steps (31 rounds,
load ~3-5): activation-indexed pair x 2 blocks 904 G bit products/s, x 4 blocks 0.97x;
weight-indexed 2x1 1.08x, 4x1 1.03x, 2x2 1.00x, 1x2 0.96x, 1x4 0.92x, split in registers
0.85x; U by VPMULHUW 0.96x (activation) and 0.97x of 4x1 (weight). Every form issues ~2.9
vector operations a lookup (the VPSHUFB, 1.4 adds, 0.4 shifts, a third of the counters' adds);
the weight-indexed steps drop the ~48 scalar row instructions of a word (189 -> 122 a 32-lookup
step) and gain at most 8%: the vector pipes bound both, not dispatch.
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
FOUR = "<" + ", ".join(["i16 4"] * 16) + ">"
DECLARATIONS = """declare <8 x i32> @llvm.x86.avx2.pmadd.wd(<16 x i16>, <16 x i16>)
declare <8 x float> @llvm.fma.v8f32(<8 x float>, <8 x float>, <8 x float>)
declare <32 x i8> @llvm.x86.avx2.pshuf.b(<32 x i8>, <32 x i8>)
declare <16 x i16> @llvm.x86.avx2.pmulhu.w(<16 x i16>, <16 x i16>)"""
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


def runs_of_three(b: Body, counters: list[str], lookups: list[list[str]], multiply: bool = False) -> list[str]:
    """The table kernels' accumulation of lookups of two 4-bit fields: each run of FIELD_LOOKUPS
    (3) lookups summed (S, one per counter pair), then C += S and U += S >> 4 (16-bit lanes).
    `lookups[k]` are counter pair k's lookups in order; `counters` holds C0, U0, C1, U1, ..."""
    out = list(counters)
    for k, found in enumerate(lookups):
        for first in range(0, len(found), 3):
            run = found[first]
            for value in found[first + 1:first + 3]:
                run = b(f"add {BYTES} {run}, {value}")
            shorts = b(f"bitcast {BYTES} {run} to {SHORTS}")
            wide = (b(f"call {SHORTS} @llvm.x86.avx2.pmulhu.w({SHORTS} {shorts}, {SHORTS} {splat('i16', 4096, 16)})")
                    if multiply else b(f"lshr {SHORTS} {shorts}, {splat('i16', 4, 16)}"))
            out[2 * k] = b(f"add {BYTES} {out[2 * k]}, {run}")
            out[2 * k + 1] = b(f"add {BYTES} {out[2 * k + 1]}, {b(f'bitcast {SHORTS} {wide} to {BYTES}')}")
    return out


def activation_tables(name: str, blocks: int, multiply: bool = False) -> str:
    """The one-plane table kernel's word step (`bitserial_tables.TableEmitter.pair_step`): a
    pixel pair's two words (%a) split into 16 table rows n_p0 + 16 n_p1 (scalar shifts and
    ANDs), each row's 32 bytes loaded from the 8 KiB table (%c) and shuffled by the weight
    nibbles of `blocks` blocks of 32 channels (%b, memory operands): 16 x blocks lookups of 256
    bit products (2 pixels x 32 channels x 4 bits), summed by `runs_of_three`."""
    low = 0x0F0F0F0F0F0F0F0F

    def body(b: Body, acc: list[str]) -> list[str]:
        words = [b.load("i64", "%a", b(f"add i64 {b('mul i64 %m, 16')}, {8 * p}")) for p in range(2)]
        lows = [b(f"and i64 {w}, {low}") for w in words]
        highs = [b(f"and i64 {b(f'lshr i64 {w}, 4')}, {low}") for w in words]
        rows = [b(f"or i64 {half[0]}, {b(f'shl i64 {half[1]}, 4')}") for half in (lows, highs)]
        base = b(f"mul i64 %m, {16 * blocks * 32}")
        found: list[list[str]] = [[] for _ in range(blocks)]
        for q in range(16):
            row = b(f"and i64 {b(f'lshr i64 {rows[q % 2]}, {8 * (q // 2)}')}, 255")
            table = b.load(BYTES, "%c", b(f"mul i64 {row}, 32"))
            for m in range(blocks):
                index = b.load(BYTES, "%b", b(f"add i64 {base}, {(q * blocks + m) * 32}"))
                found[m].append(b(f"call {BYTES} @llvm.x86.avx2.pshuf.b({BYTES} {table}, {BYTES} {index})"))
        return runs_of_three(b, acc, found, multiply)

    return function(name, [(BYTES, "zeroinitializer")] * (2 * blocks), body)


def weight_tables(name: str, vectors: int, pairs: int, split: bool, multiply: bool = False) -> str:
    """A weight-indexed table kernel's step over 16 nibble positions q: per q, `pairs` tables
    (%b: entry i = popcount(i & w_c) + 16 popcount(i & w_c') for a pair of output channels'
    nibbles q, built at compile time) shuffled by `vectors` vectors of 32 pixels' activation
    nibbles q: 16 x vectors x pairs lookups of 256 bit products (32 pixels x 2 channels x 4
    bits), summed by `runs_of_three`. The nibbles are bytes in memory (%a, a pixel-interleaved
    layout, one byte a nibble: memory operands), or with `split` packed 2 a byte and split in
    registers (an AND, or a 16-bit shift and an AND, per vector of 32)."""

    def body(b: Body, acc: list[str]) -> list[str]:
        base = b(f"mul i64 %m, {16 * vectors * 32}")
        found: list[list[str]] = [[] for _ in range(vectors * pairs)]
        packed: dict[tuple[int, int], str] = {}
        for q in range(16):
            tables = [b.load(BYTES, "%b", b(f"add i64 {base}, {(q * pairs + o) * 32}")) for o in range(pairs)]
            for v in range(vectors):
                if split:
                    if (q // 2, v) not in packed:
                        packed[q // 2, v] = b.load(BYTES, "%a", b(f"add i64 {base}, {((q // 2) * vectors + v) * 32}"))
                    value = packed[q // 2, v]
                    if q % 2:
                        wide = b(f"bitcast {BYTES} {value} to {SHORTS}")
                        value = b(f"bitcast {SHORTS} {b(f'lshr {SHORTS} {wide}, {FOUR}')} to {BYTES}")
                    index = b(f"and {BYTES} {value}, {splat('i8', 15, 32)}")
                else:
                    index = b.load(BYTES, "%a", b(f"add i64 {base}, {(q * vectors + v) * 32}"))
                for o, table in enumerate(tables):
                    found[v * pairs + o].append(
                        b(f"call {BYTES} @llvm.x86.avx2.pshuf.b({BYTES} {table}, {BYTES} {index})"))
        return runs_of_three(b, acc, found, multiply)

    return function(name, [(BYTES, "zeroinitializer")] * (2 * vectors * pairs), body)


TILES = [(6, 2), (5, 2), (4, 3)]
GROUPS = {  # group: {case: (IR maker, its arguments, work per iteration)}; the first case is the baseline
    "G MAC/s": {**{f"fma {r}x{v}": (multiply_add_tile, (r, v, False), 8 * r * v) for r, v in TILES},
                **{f"pmaddwd {r}x{v}": (multiply_add_tile, (r, v, True), 16 * r * v) for r, v in TILES}},
    "G instructions/s": {"vpshufb": (shuffle_mix, (None,), 48), "vpshufb + vpsrlw": (shuffle_mix, ("shift",), 48),
                         "vpshufb + vpaddb": (shuffle_mix, ("add",), 48)},
    "G bit products/s": {
        "activation tables, pair x 2 blocks": (activation_tables, (2,), 16 * 2 * 256),
        "activation tables, pair x 4 blocks": (activation_tables, (4,), 16 * 4 * 256),
        "activation tables, pair x 2 blocks, vpmulhuw": (activation_tables, (2, True), 16 * 2 * 256),
        "weight tables 4x1 vpmulhuw": (weight_tables, (4, 1, False, True), 16 * 4 * 256),
        **{f"weight tables {v}x{o}{' split' if split else ''}": (weight_tables, (v, o, split), 16 * v * o * 256)
           for v, o, split in [(1, 2, False), (2, 1, False), (2, 2, False), (1, 4, False), (4, 1, False),
                               (1, 2, True), (2, 2, True)]}},
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
