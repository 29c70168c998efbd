"""The error hierarchy: every error frittata raises is a `FrittataError`.

Messages follow one shape: what was expected, what was found, and where (op, input, file:line).
"""


class FrittataError(Exception):
    """Base class of every error raised by frittata."""


class FrittataTypeError(FrittataError):
    """A term was built with operands of the wrong shape or dtype, or bad attributes."""


class FrontendError(FrittataError):
    """A model could not be imported: malformed file, unsupported operators, symbolic shapes."""


class RewriteError(FrittataError):
    """A rule file is malformed, or saturation failed."""


class RuleCheckError(RewriteError):
    """A rule failed its property check: the message names the rule and gives the
    counterexample (the input values and both sides' outputs)."""


class ExtractionError(FrittataError):
    """No valid program could be extracted from the e-graph."""


class TuningError(FrittataError):
    """A tuning record file is malformed, a record does not fit its workload, or a tuning run
    was asked for something it cannot do (an unknown runner, no tasks)."""


class TargetError(FrittataError):
    """A target string names a machine LLVM cannot generate code for: an unknown option, triple
    or CPU name, or a malformed -mattr feature list."""


class LoweringError(FrittataError):
    """A term could not be lowered to code for the chosen target."""


class RuntimeInputError(FrittataError):
    """Inputs given to a compiled module or the interpreter do not match its signature, or an
    index computed from them (a token id, say) is outside the range its operator accepts: the
    message names the operator, the index, its position and the valid range. Compiled code
    checks such indices before any access and raises this after the kernel returns."""


class TeamClosedError(FrittataError):
    """A thread team was asked to run after it was closed (its module was collected)."""


class ModuleFormatError(FrittataError):
    """A saved module file is truncated, corrupted, or of an unknown format version."""


class HardwareError(FrittataError):
    """An accelerator configuration or instruction stream is invalid (VTA)."""


class GradientError(FrittataError):
    """A gradient was asked of something that has none: an op that is not differentiable
    (comparisons, arg_max, integer ops) on the path from the parameters to the loss, a
    non-scalar or integer loss, or an unknown `wrt` name."""


class DeployError(FrittataError):
    """A module asked to run or be exported where it cannot: code compiled for another machine
    run here, a C compiler or linker for the target missing, a tool that failed."""
