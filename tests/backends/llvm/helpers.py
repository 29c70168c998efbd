"""Shared helpers of the llvm backend tests: compile, run and compare with the interpreter."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np

import frittata as ft
import frittata.terms as T
from frittata.backends.jit import Machine, host
from frittata.backends.llvm import build
from tests.strategies import inputs_for

AVX2_FEATURES = "+avx,+avx2,+fma"
AVX512_FEATURES = AVX2_FEATURES + ",+avx512f,+avx512bw,+avx512dq,+avx512vl"
SAPPHIRE_RAPIDS_FEATURES = AVX512_FEATURES + (",+avx512cd,+avx512vnni,+avx512vpopcntdq,+avx512bitalg,+avx512vbmi,"
                                              "+avx512vbmi2,+avx512ifma,+avx512bf16,+avx512fp16,+avxvnni,+amx-tile,"
                                              "+amx-int8,+amx-bf16,+f16c,+bmi,+bmi2,+popcnt,+lzcnt,+gfni,+vaes,"
                                              "+vpclmulqdq")
"""The ISA extensions of a Sapphire / Emerald Rapids Xeon (what its host features string enables
beyond AVX2: the AVX-512 subsets with VNNI, VPOPCNTDQ, BF16 and FP16, AMX, AVX-VNNI)."""


def check(program: ft.Program, inputs=None, threads: int = 2, rtol: float = 1e-4, atol: float = 1e-5):
    """Compile `program`, run it on seeded (or given) inputs, assert equal to `ft.evaluate`."""
    inputs = inputs_for(program) if inputs is None else inputs
    mod = build(program, threads=threads)
    got, want = dirty(mod).run(**inputs), ft.evaluate(program, inputs)
    assert set(got) == set(want)
    for name in want:
        assert got[name].dtype == want[name].dtype, name
        assert got[name].shape == want[name].shape, name
        if want[name].dtype.kind == "f":
            np.testing.assert_allclose(got[name], want[name], rtol=rtol, atol=atol, err_msg=name)
        else:
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    return mod


def rand(shape, dtype="float32", seed=0, scale=1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        return (rng.standard_normal(shape) * scale).astype(np.float32)
    return rng.integers(-128, 128, shape).astype(dtype)


@dataclass(frozen=True)
class SixteenLanes(Machine):
    """An AVX2 target that emits the AVX-512 (16-lane) kernels."""

    @property
    def lanes(self) -> int:
        return 16


def targets() -> dict[str, Machine]:
    """Both ISAs' kernels, forced through the LLVM target: AVX2 runs anywhere with AVX2; AVX-512
    runs on an AVX-512 host as the host itself (every extension it has: VNNI's vpdpwssd and
    VPOPCNTDQ's vpopcntq run there), and elsewhere its 16-lane kernels are built for AVX2 (LLVM
    splits every vector in two), so the variant's indexing and tails are checked on any x86 machine."""
    triple = host().triple
    avx512 = host() if host().lanes == 16 else SixteenLanes(triple, "znver3", AVX2_FEATURES)
    return {"avx2": Machine(triple, "znver3", AVX2_FEATURES), "avx512": avx512}


def dirty(mod: ft.Module) -> ft.Module:
    """`mod` with its arena (intermediates and kernels' scratch) filled with NaN, so a kernel
    that reads a float of it it has not written (a pad it assumed zero) fails the comparison;
    the runtime's arena starts zeroed and a short program may never reuse a buffer."""
    mod._arena.fill(0xFF)  # every float32 of all-ones bytes is a NaN
    return mod


def check_on(program: ft.Program, target: Machine, threads: int = 2) -> ft.Module:
    """`check` with the kernels of `target` (see `targets`)."""
    inputs = inputs_for(program, seed=4)
    mod = build(program, threads=threads, target=target)
    got, want = dirty(mod).run(**inputs), ft.evaluate(program, inputs)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-4, err_msg=name)
    return mod


def disassembly(obj: bytes) -> str:
    """`objdump -d` of an object file's bytes (AT&T syntax, one instruction a line, without the
    raw bytes): the machine code a module links, as it is (binutils' objdump, which CI installs)."""
    with tempfile.NamedTemporaryFile(suffix=".o") as file:
        file.write(obj)
        file.flush()
        return subprocess.run(["objdump", "-d", "--no-show-raw-insn", file.name], capture_output=True, text=True,
                              check=True).stdout


def kernel_texts(program: ft.Program, target: Machine) -> list[str]:
    """The LLVM IR of each distinct kernel of `program` built for `target` (emitted, not compiled)."""
    from frittata.backends.llvm import fastpath
    from frittata.backends.llvm.codegen import emit_module
    from frittata.backends.llvm.plan import make_plan

    plan = make_plan(program, lambda t: fastpath.scratch_bytes(t, target.lanes))
    return list(emit_module(plan, target).kernels.values())


def packed_weights(codes: np.ndarray, bits: int, word: str) -> T.Term:
    """The weight codes bit-packed on axis 1 into `word`s, as a parameter (what the rules fold)."""
    return T.param("w", T.evaluate(T.bitpack(T.var("c", codes.shape, "int8"), bits, 1, word), {"c": codes}))


def assert_compiled_equal(program: T.Program, inputs: dict, target: Machine) -> None:
    """`program` built for `target` on two threads gives the interpreter's outputs, dtypes included."""
    got = build(program, threads=2, target=target).run(**inputs)
    for name, want in T.evaluate(program, inputs).items():
        assert got[name].dtype == want.dtype
        np.testing.assert_array_equal(got[name], want, err_msg=name)


def fast_path_programs() -> dict[str, T.Term]:
    """One small term per CPU fast path (the kernels `fastpath` lowers; the bit-serial, vector
    pool, vector sum and 8-bit kernels, the int8 Winograd's exact integer F(3x3, 3x3)), each with
    partial tiles at 4, 8 and 16 lanes: the set the ISA tests build for other machines
    (`test_avx512_kernels`, `test_x86_64_v2`)."""
    rng = np.random.default_rng(0)
    x = T.var("x", (1, 16, 11, 37))
    ints = T.var("x", (1, 5, 9, 21), "int8")
    return {
        "dense": T.fused_dense(T.var("x", (3, 37)), T.param("w", rand((45, 37), seed=1)),
                               T.param("b", rand((45,), seed=2)), epilogue=(("relu",),)),
        "matmul": T.matmul(T.var("x", (5, 19)), T.var("y", (19, 41))),
        "batched_matmul": T.matmul(T.var("x", (2, 5, 19)), T.var("y", (2, 19, 23))),
        "direct_conv": T.fused_conv2d(x, T.param("w", rand((20, 16, 3, 3), seed=3, scale=0.2)),
                                      T.param("b", rand((20,), seed=4)), pads=(1, 1, 1, 1), epilogue=(("relu",),)),
        "strided_conv": T.conv2d(x, T.param("w", rand((8, 16, 3, 3), seed=3)), strides=(2, 2), pads=(1, 1, 1, 1)),
        "lanes_conv": T.conv2d(T.var("x", (1, 40, 13, 15)), T.param("w", rand((37, 40, 3, 3), seed=5, scale=0.2)),
                               strides=(2, 2), pads=(1, 1, 1, 1)),
        "depthwise": T.fused_conv2d(T.var("x", (1, 19, 13, 37)), T.param("w", rand((19, 1, 3, 3), seed=6)),
                                    T.param("b", rand((19,), seed=7)), pads=(1, 1, 1, 1), groups=19,
                                    epilogue=(("clip", 0.0, 6.0),)),
        "pixel_gemm": T.fused_conv2d(T.var("x", (1, 24, 7, 7)), T.param("w", rand((40, 24, 1, 1), seed=8)),
                                     T.param("b", rand((40,), seed=9)), T.var("r", (1, 40, 7, 7)),
                                     epilogue=(("add",), ("relu",))),
        "channel_gemm": T.conv2d(T.var("x", (1, 16, 9, 9)), T.param("w", rand((96, 16, 1, 1), seed=8))),
        "winograd": T.winograd_conv2d(T.var("x", (1, 13, 11, 12)),
                                      T.param("w", rand((21, 13, 3, 3), seed=1, scale=0.3)),
                                      T.param("b", rand((21,), seed=2)), pads=(1, 1, 1, 1), epilogue=(("relu",),),
                                      tile=4),
        "int8": T.fused_conv2d(ints, T.param("w", rng.integers(-128, 128, (13, 5, 3, 3)).astype(np.int8)),
                               T.param("b", rng.integers(-1000, 1000, (13,)).astype(np.int32)), pads=(1, 1, 1, 1),
                               epilogue=(("shift", 8), ("clip", -127, 127), ("cast", "int8"))),
        "int8_winograd": T.winograd_conv2d(ints, T.param("w", rng.integers(-128, 128, (13, 5, 3, 3)).astype(np.int8)),
                                           T.param("b", rng.integers(-1000, 1000, (13,)).astype(np.int32)),
                                           pads=(1, 1, 1, 1), epilogue=(("shift", 8), ("clip", -127, 127),
                                                                        ("cast", "int8")), tile=3),
        "bitserial": T.bitserial_conv2d(T.bitpack(T.var("x", (1, 64, 6, 6), "int8"), 2, 1),
                                        packed_weights(rng.integers(0, 2, (8, 64, 3, 3)).astype(np.int8), 1, "int64"),
                                        1, 1),
        "max_pool": T.max_pool2d(x, (3, 3), (2, 2), (1, 1, 1, 1)),
        "global_avg_pool": T.global_avg_pool(x),
        "byte_pool": T.max_pool2d(T.var("x", (1, 3, 6, 70), "int8"), 2, 2),
        "byte_bitpack": T.bitpack(T.var("x", (2, 70, 5, 13), "int8"), 2, 1),
        "byte_levels": T.fused_elementwise(T.var("x", (3, 70), "int8"), expr=(
            "cast", ("clip", ("right_shift", ("relu", ("cast", ("arg", 0), "int32")), 2), 0, 3), "int8")),
    }
