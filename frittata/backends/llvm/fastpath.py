"""Fast float32 contraction paths: which terms take them, their scratch, and their lowering."""

from __future__ import annotations

from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.plan import Plan, Step
from frittata.backends.llvm.views import View
from frittata.terms.term import Term


def scratch_bytes(term: Term, lanes: int, threads: int) -> int:
    return 0


def lower(k: Kernel, plan: Plan, step: Step, args: list[View]) -> bool:
    return False


def accepts(term: Term, lanes: int) -> bool:
    return False
