"""LLVM's code generators, looked up by triple: every one llvmlite has is initialised where it
is first needed, so no caller depends on another having initialised LLVM before it."""

from __future__ import annotations

from functools import cache

from llvmlite import binding as llvm

from frittata.errors import TargetError


@cache
def initialize_all() -> None:
    """Every code generator llvmlite has (x86, AArch64, WebAssembly, NVPTX, ...) and its assembly
    printer, for the host and for cross targets."""
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()


def llvm_target(triple: str, where: str) -> llvm.Target:
    """LLVM's target for `triple`; `where` names what asked (a target string, a module)."""
    initialize_all()
    try:
        return llvm.Target.from_triple(triple)
    except RuntimeError as error:
        raise TargetError(f"{where}: expected a triple LLVM can generate code for, got {triple!r} ({error})") from None
