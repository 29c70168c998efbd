"""frittata: a functional, term-rewriting deep-learning compiler.

The public API: build or import a `Program`, evaluate it with the reference interpreter,
compile it for a target, run, save and load the compiled `Module`.
"""

from frittata import terms
from frittata.errors import (
    ExtractionError,
    FrittataError,
    FrittataTypeError,
    FrontendError,
    HardwareError,
    LoweringError,
    ModuleFormatError,
    RewriteError,
    RuntimeInputError,
)
from frittata.quantize import quantize
from frittata.terms import Program, Term, evaluate

__all__ = [
    "ExtractionError", "FrittataError", "FrittataTypeError", "FrontendError", "HardwareError",
    "LoweringError", "ModuleFormatError", "Program", "RewriteError", "RuntimeInputError", "Term",
    "compile", "evaluate", "from_onnx", "load", "quantize", "terms",
]


def compile(program: Program, target: str = "llvm", **options):  # noqa: A001 - the public name
    """Compile a Program for "llvm" or "vta"; see `frittata.driver.compile` for the options."""
    from frittata.driver import compile as _compile

    return _compile(program, target, **options)


def load(path, threads: int | None = None):
    """Load a saved Module; needs neither egglog nor the rewrite and extraction stages."""
    from frittata.backends.runtime import load as _load

    return _load(path, threads=threads)


def from_onnx(model, shapes=None) -> Program:
    """Import an ONNX model (path, bytes or ModelProto) as a Program; see `frittata.terms.onnx_import`."""
    from frittata.terms.onnx_import import from_onnx as _from_onnx

    return _from_onnx(model, shapes=shapes)
