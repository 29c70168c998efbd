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
    GradientError,
    HardwareError,
    LoweringError,
    ModuleFormatError,
    RewriteError,
    RuleCheckError,
    RuntimeInputError,
    TargetError,
)
from frittata import vta
from frittata.autodiff import optim
from frittata.backends.target import Target
from frittata.quantize import quantize
from frittata.terms import Program, Term, evaluate

__all__ = [
    "ExtractionError", "FrittataError", "FrittataTypeError", "FrontendError", "GradientError", "HardwareError",
    "LoweringError", "ModuleFormatError", "Program", "RewriteError", "RuleCheckError", "RuntimeInputError", "Target",
    "TargetError", "Term", "compile", "evaluate", "from_onnx", "grad", "load", "optim", "quantize", "register_target",
    "terms", "vta",
]


def compile(program: Program, target: str | Target = "llvm", **options):  # noqa: A001 - the public name
    """Compile a Program for "llvm", "vta" or a registered `Target`; see `frittata.driver.compile`."""
    from frittata.driver import compile as _compile

    return _compile(program, target, **options)


def grad(program: Program, wrt=None, of: str = "loss") -> Program:
    """The program of `of`'s value and its gradients `grad_<w>` for each `w` in `wrt` (inputs or
    parameters; None: every float parameter); see `frittata.autodiff.grad`."""
    from frittata.autodiff import grad as _grad

    return _grad(program, wrt, of)


def tune(program: Program, target: str = "llvm", **options):
    """Measure `program`'s candidate kernels on this machine and log them as tuning records
    (trials=, records="model.jsonl", runner=, resume=, search=, ...); `ft.compile(program,
    records=...)` then prices kernels by them. See `frittata.tuning.tuner.tune`."""
    from frittata.tuning.tuner import tune as _tune

    return _tune(program, target, **options)


def load(path, threads: int | None = None):
    """Load a saved module with its target's loader; needs neither egglog nor the rewrite and
    extraction stages."""
    from frittata.backends.registry import load as _load

    return _load(path, threads=threads)


def register_target(target: Target, replace: bool = False) -> None:
    """Make a user's `Target` available to `compile` (by its name) and its saved files to `load`."""
    from frittata.backends.registry import register_target as _register

    _register(target, replace)


def from_onnx(model, shapes=None, constants=None) -> Program:
    """Import an ONNX model (path, bytes or ModelProto) as a Program; see `frittata.terms.onnx_import`.

    `shapes` fixes symbolic input dimensions; `constants` binds graph inputs that steer shapes
    (axes, pads, starts/ends, shape, bounds, k) to values at compile time.
    """
    from frittata.terms.onnx_import import from_onnx as _from_onnx

    return _from_onnx(model, shapes=shapes, constants=constants)
