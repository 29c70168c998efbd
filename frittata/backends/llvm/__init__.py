"""The LLVM backend: `build(program, threads=None) -> Module` compiles a Program for the host CPU."""

from frittata.backends.llvm.build import build

__all__ = ["build"]
