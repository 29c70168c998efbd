"""The vector ISA features an x86 CPU named to LLVM implies ("llvm -mcpu=sapphirerapids" with no
-mattr), found by compiling one tiny function per feature for that CPU and reading the assembly.

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

_EVEN, _ODD = (", ".join(f"i32 {i}" for i in range(first, 32, 2)) for first in (0, 1))
_PAIRS = f"""(<32 x i16> %x, <32 x i16> %w, <16 x i32> %acc) {{
  %xs = sext <32 x i16> %x to <32 x i32>
  %ws = sext <32 x i16> %w to <32 x i32>
  %m = mul <32 x i32> %xs, %ws
  %e = shufflevector <32 x i32> %m, <32 x i32> %m, <16 x i32> <{_EVEN}>
  %o = shufflevector <32 x i32> %m, <32 x i32> %m, <16 x i32> <{_ODD}>
  %s = add <16 x i32> %e, %o
  %r = add <16 x i32> %acc, %s
  ret <16 x i32> %r
}}"""


def _binary(vector: str, operation: str) -> str:
    return f"({vector} %a, {vector} %b) {{\n  %c = {operation} {vector} %a, %b\n  ret {vector} %c\n}}"


def _call(vector: str, intrinsic: str, args: str) -> str:
    return f"({vector} %a, {vector} %b) {{\n  %c = call {vector} @{intrinsic}({args})\n  ret {vector} %c\n}}"


def _writes(mnemonic: str, register: str) -> str:
    """An instruction `mnemonic` on `register`s, whether its first source is a register or memory
    (the Windows x64 convention passes vectors by pointer: "vpaddd (%rdx), %ymm0, %ymm0")."""
    return rf"{mnemonic}\s[^\n]*%{register}"


PROBES: dict[str, tuple[str, str, str]] = {
    "+avx": ("<8 x float>", _binary("<8 x float>", "fadd"), r"%ymm"),
    "+avx2": ("<8 x i32>", _binary("<8 x i32>", "add"), _writes("vpaddd", "ymm")),
    "+fma": ("<4 x float>", _call("<4 x float>", "llvm.fma.v4f32", "<4 x float> %a, <4 x float> %b, <4 x float> %a"),
             r"vfmadd"),
    "+avx512f": ("<16 x float>", _binary("<16 x float>", "fadd"), r"%zmm"),
    "+avx512bw": ("<64 x i8>", _binary("<64 x i8>", "add"), _writes("vpaddb", "zmm")),
    "+avx512vpopcntdq": ("<8 x i64>", _call("<8 x i64>", "llvm.ctpop.v8i64", "<8 x i64> %a"),
                         _writes("vpopcntq", "zmm")),
    "+avx512vnni": ("<16 x i32>", _PAIRS, _writes("vpdpwssd", "zmm")),
    "+avxvnni": ("<16 x i32>", _PAIRS, r"\{vex\}\s*vpdpwssd"),
}
"""Each feature's probe: a function's result type and the rest of its definition, and what its
assembly shows when the CPU has the feature."""
DECLARATIONS = ("declare <4 x float> @llvm.fma.v4f32(<4 x float>, <4 x float>, <4 x float>)\n"
                "declare <8 x i64> @llvm.ctpop.v8i64(<8 x i64>)\n")


@cache
def implied_features(triple: str, cpu: str, features: str) -> str:
    """The `PROBES` features that LLVM's `cpu` with `features` (explicit "+name" / "-name")
    has and `features` does not mention, comma-separated ("" off x86 or for CPU "generic"):
    one module of every probe, compiled once, each function's assembly (from its label to the
    next probe's: ELF, Mach-O "_probe0:" and COFF assembly alike) searched."""
    if triple.split("-", 1)[0] not in X86_ARCHS or cpu in ("", "generic"):
        return ""
    mentioned = {f[1:] for f in features.split(",") if f}
    names = {feature: f"probe{i}" for i, feature in enumerate(PROBES) if feature[1:] not in mentioned}
    text = DECLARATIONS + "\n".join(f"define {PROBES[f][0]} @{name}{PROBES[f][1]}" for f, name in names.items())
    machine = llvm_target(triple, "x86 feature probe").create_target_machine(cpu=cpu, features=features, opt=2)
    assembly = machine.emit_assembly(llvm.parse_assembly(text))
    parts = re.split(r"^_?(probe\d+):", assembly, flags=re.MULTILINE)
    bodies = dict(zip(parts[1::2], parts[2::2], strict=True))
    return ",".join(f for f, name in names.items() if re.search(PROBES[f][2], bodies.get(name, "")))
