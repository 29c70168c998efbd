"""The vector ISA features an x86 CPU named to LLVM has with the features a target string gives
("llvm -mcpu=sapphirerapids" with no -mattr; "-mattr=+avx2,-avx", which has no AVX2), found by
compiling one tiny function per feature for that CPU and reading the assembly.

The kernels' vector width and the cost model read a machine's features string (`vector_lanes`:
"+avx512f" 16 lanes, "+avx2" 8), and a module runs where the host has every "+feature" it was
compiled for; a target string that names only the CPU would otherwise get the 4-lane SSE kernels
(and a module that claims to run on any x86-64) although LLVM generates AVX-512 code for it.
llvmlite cannot list a named CPU's features, so each is probed: the instruction LLVM selects for
an operation that only the feature gives (a zmm register for a <16 x float> add, vpopcntq for a
64-bit lane popcount, vpdpwssd for int16 pair products added to an accumulator, ...).
"""

from __future__ import annotations

import re
from functools import cache

from llvmlite import binding as llvm

from frittata.backends.llvm_targets import llvm_target
from frittata.terms.cpu_geometry import X86_ARCHS


def _pairs(sums: int) -> str:
    """A probe adding `sums` int16 pair products (x[2i] w[2i] + x[2i+1] w[2i+1]) to an int32
    accumulator: one vpdpwssd where the CPU has VNNI for the vector."""
    even, odd = (", ".join(f"i32 {i}" for i in range(first, 2 * sums, 2)) for first in (0, 1))
    wide, narrow = f"<{2 * sums} x i32>", f"<{sums} x i32>"
    return f"""(<{2 * sums} x i16> %x, <{2 * sums} x i16> %w, {narrow} %acc) {{
  %xs = sext <{2 * sums} x i16> %x to {wide}
  %ws = sext <{2 * sums} x i16> %w to {wide}
  %m = mul {wide} %xs, %ws
  %e = shufflevector {wide} %m, {wide} %m, {narrow} <{even}>
  %o = shufflevector {wide} %m, {wide} %m, {narrow} <{odd}>
  %s = add {narrow} %e, %o
  %r = add {narrow} %acc, %s
  ret {narrow} %r
}}"""


def _binary(vector: str, operation: str) -> str:
    return f"({vector} %a, {vector} %b) {{\n  %c = {operation} {vector} %a, %b\n  ret {vector} %c\n}}"


def _call(vector: str, intrinsic: str, args: str, attributes: str = "") -> str:
    return (f"({vector} %a, {vector} %b) {attributes}{{\n  %c = call {vector} @{intrinsic}({args})\n"
            f"  ret {vector} %c\n}}")


def _writes(mnemonic: str, register: str) -> str:
    """An instruction `mnemonic` on `register`s, whether its first source is a register or memory
    (the Windows x64 convention passes vectors by pointer: "vpaddd (%rdx), %ymm0, %ymm0")."""
    return rf"{mnemonic}\s[^\n]*%{register}"


PROBES: dict[str, tuple[str, str, str]] = {
    "+avx": ("<8 x float>", _binary("<8 x float>", "fadd"), r"%ymm"),
    "+avx2": ("<8 x i32>", _binary("<8 x i32>", "add"), _writes("vpaddd", "ymm")),
    "+fma": ("<4 x float>", _call("<4 x float>", "llvm.fma.v4f32", "<4 x float> %a, <4 x float> %b, <4 x float> %a",
                                  "#0 "), r"vfmadd\d{3}"),
    "+avx512f": ("<16 x float>", _binary("<16 x float>", "fadd"), r"%zmm"),
    "+avx512bw": ("<64 x i8>", _binary("<64 x i8>", "add"), _writes("vpaddb", "zmm")),
    "+avx512vpopcntdq": ("<8 x i64>", _call("<8 x i64>", "llvm.ctpop.v8i64", "<8 x i64> %a"),
                         _writes("vpopcntq", "zmm")),
    "+avx512vnni": ("<16 x i32>", _pairs(16), _writes("vpdpwssd", "zmm")),
    "+avxvnni": ("<8 x i32>", _pairs(8), r"\{vex\}\s*vpdpwssd"),
}
"""Each feature's probe: a function's result type and the rest of its definition, and what its
assembly shows when the CPU has the feature. FMA3's is vfmadd231ps and the like (FMA4's vfmaddps
is not FMA3), in a function without FMA4 (attributes #0, `_no_fma4`): LLVM picks FMA4 where a CPU
has both (bdver2). AVX-VNNI's is 256-bit: a 512-bit one is EVEX (AVX512-VNNI) on Sapphire Rapids."""
DECLARATIONS = ("declare <4 x float> @llvm.fma.v4f32(<4 x float>, <4 x float>, <4 x float>)\n"
                "declare <8 x i64> @llvm.ctpop.v8i64(<8 x i64>)\n")


def _no_fma4(features: str) -> str:
    """Attributes #0: the module's features with FMA4 off (a function's "target-features"
    replace the target machine's)."""
    return f'attributes #0 = {{ "target-features"="{",".join(f for f in (features, "-fma4") if f)}" }}\n'


@cache
def probed_features(triple: str, cpu: str, features: str) -> frozenset[str]:
    """The `PROBES` features ("+avx2", ...) LLVM's `cpu` with `features` (explicit "+name" /
    "-name") has: one module of every probe, compiled once, each function's assembly (from its
    label to the next probe's: ELF, Mach-O "_probe0:" and COFF assembly alike) searched."""
    names = {feature: f"probe{i}" for i, feature in enumerate(PROBES)}
    text = DECLARATIONS + _no_fma4(features) + "\n".join(f"define {PROBES[f][0]} @{name}{PROBES[f][1]}"
                                                         for f, name in names.items())
    machine = llvm_target(triple, "x86 feature probe").create_target_machine(cpu=cpu, features=features, opt=2,
                                                                               codemodel="default")  # i686: small
    assembly = machine.emit_assembly(llvm.parse_assembly(text))
    parts = re.split(r"^_?(probe\d+):", assembly, flags=re.MULTILINE)
    bodies = dict(zip(parts[1::2], parts[2::2], strict=True))
    return frozenset(f for f, name in names.items() if re.search(PROBES[f][2], bodies.get(name, "")))


def vector_features(triple: str, cpu: str, features: str) -> str:
    """`features` (one entry per feature) with the `PROBES` features as LLVM's `cpu` has them
    after applying `features`: "+name" for each it has, "-name" for each it lacks that `features`
    mentions, after the other entries (so they win, as LLVM applies entries in order). LLVM's
    features imply others, and switching one off switches off those that need it: "+avx2,-avx"
    has no AVX2 and "+avx512f,-avx2" no AVX-512F, which a reader of the string alone would get
    wrong (8 or 16 lanes, and intrinsics LLVM cannot select). Unchanged off x86, and "" for the
    CPU "generic" without features."""
    if triple.split("-", 1)[0] not in X86_ARCHS or (cpu in ("", "generic") and not features):
        return features
    has = probed_features(triple, cpu, features)
    mentioned = {f[1:]: f for f in features.split(",") if f}
    others = [entry for name, entry in mentioned.items() if f"+{name}" not in PROBES]
    probed = [f for f in PROBES if f in has] + [f"-{f[1:]}" for f in PROBES if f not in has and f[1:] in mentioned]
    return ",".join(others + probed)
