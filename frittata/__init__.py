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
from frittata.terms import Program, Term, evaluate

__all__ = [
    "ExtractionError", "FrittataError", "FrittataTypeError", "FrontendError", "HardwareError",
    "LoweringError", "ModuleFormatError", "Program", "RewriteError", "RuntimeInputError", "Term",
    "evaluate", "from_onnx", "terms",
]


def from_onnx(model, shapes=None) -> Program:
    """Import an ONNX model (path, bytes or ModelProto) as a Program; see `frittata.terms.onnx_import`."""
    from frittata.terms.onnx_import import from_onnx as _from_onnx

    return _from_onnx(model, shapes=shapes)
