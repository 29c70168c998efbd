"""The operator table: one `Op` value per operator, registered by the module of its family.

An `Op` (alias `OpDef`) holds every fact about one operator: its name (in rule files, `repr`
and ONNX-import reports), operand arity, attribute schema, type rule, reference meaning, ONNX
names, cost class, op classes, its vector-Jacobian product (`vjp`, the template reverse-mode
differentiation instantiates) and — for elementwise ops — its scalar meaning as an expansion
into the primitive scalar operations of `frittata.terms.prims`, which a backend implements once.
Kernel ops give an `expand` instead: their meaning, type and ONNX export derive from it.

This module is the core of the table and imports no family. The families register their ops
when `frittata.terms` is imported (its `__init__` imports every family, then calls `seal`), so
by the time any other package reads the table it is complete.

`Op` keeps the spelling of the enum it replaces: `Op.ADD` looks up the registered op named
"add" (any upper-case attribute is a registry lookup), `for op in Op` iterates the registered
ops, `op.value` is the name, and ops compare by identity, so `match op: case Op.ADD:` works.
The class sets `UNARY`, `BINARY`, `ELEMENTWISE`, `REDUCTIONS`, `KERNELS`, `TILED`, `VTA` and
`LEAVES` are computed from the op classes on first use (`ops_in_class`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from frittata.errors import FrittataTypeError
from frittata.terms.dtypes import TensorType

if TYPE_CHECKING:
    from frittata.terms.term import Term

Attrs = tuple[tuple[str, Any], ...]
REQUIRED: Any = object()
"""The default of an attribute that every node must give."""


class Cost(enum.Enum):
    """The kind of work an operator does, which decides how a cost model prices it."""

    FREE = "free"                      # leaves: no run-time work
    VIEW = "view"                      # metadata only (a reshape of a contiguous tensor)
    ELEMENTWISE = "elementwise"        # one instruction or so per element
    TRANSCENDENTAL = "transcendental"  # a polynomial or iteration per element (exp, erf, ...)
    FUSED_ELEMENTWISE = "fused"        # a whole elementwise expression per element
    CONTRACTION = "contraction"        # dense, matmul, conv2d and their kernel forms
    WINDOW = "window"                  # sliding-window reductions (pools): kernel area per output
    REDUCTION = "reduction"            # one pass over the input (reductions, global pools)
    NORMALIZATION = "normalization"    # batch norm, layer norm, softmax
    COPY = "copy"                      # contiguous data movement
    STRIDED_COPY = "strided"           # transposing data movement
    ACCELERATOR = "accelerator"        # runs on an accelerator (VTA), not on the CPU


CLASSES: dict[str, str] = {
    "leaf": "no operands: inputs, parameters, constants",
    "elementwise": "computes each output element from the same element of its broadcast operands",
    "unary": "elementwise with one operand",
    "binary": "elementwise with two operands of one dtype",
    "float_only": "defined on float operands only",
    "compare": "elementwise comparison of two operands of one dtype, giving bool",
    "logic": "elementwise logic on bool operands",
    "contraction": "sums products over a reduction axis (matmul, dense, conv2d)",
    "pool": "sliding-window or global pooling",
    "normalization": "batch norm, layer norm, softmax",
    "reduction": "reduces axes with sum, product, mean, max or min",
    "movement": "moves data without arithmetic",
    "indexed": "reads or writes at positions given by a run-time operand (its indices are bounds-checked)",
    "kernel": "a kernel op, defined by its expansion into plain ops",
    "fused": "a fused contraction with an epilogue",
    "tiled": "a fused contraction with its CPU loop schedule",
    "vta": "a VTA accelerator op or layout",
}
"""The op classes, with what membership means; `ops_in_class` accepts exactly these names."""


@dataclass(frozen=True, slots=True)
class Arity:
    """Operand count: `low` to `high` inclusive; `high` None means no upper limit (variadic)."""

    low: int
    high: int | None

    def accepts(self, n: int) -> bool:
        return self.low <= n and (self.high is None or n <= self.high)

    def __str__(self) -> str:
        """The count for error messages: "1 operand", "2 operands", "3..4 operands", "1 or more operands"."""
        if self.high is None:
            return f"{self.low} or more operands"
        if self.high != self.low:
            return f"{self.low}..{self.high} operands"
        return "1 operand" if self.low == 1 else f"{self.low} operands"


def fixed(n: int) -> Arity:
    return Arity(n, n)


def variadic(low: int = 1) -> Arity:
    return Arity(low, None)


def _keep(value: Any, first: TensorType | None) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class Attr:
    """One attribute: name, Python type (documentation), default, normalizer and sampler.

    `normalize(value, first)` returns the builder-normal form of a value (idempotent); `first`
    is the type of the node's first operand, or None where it is unknown (leaves, rule text).
    `choices(first)` lists valid values worth testing for an operand of type `first`; program
    generators draw from it (hypothesis: `st.sampled_from`, rule instances: a numpy rng).
    """

    name: str
    kind: type | tuple[type, ...] = object
    default: Any = REQUIRED
    normalize: Callable[[Any, TensorType | None], Any] = _keep
    choices: Callable[[TensorType], Sequence[Any]] | None = None


Infer = Callable[["Op", list[TensorType], dict[str, Any]], TensorType]
Evaluate = Callable[["Term", list[np.ndarray]], np.ndarray]
Expand = Callable[["Op", tuple["Term", ...], dict[str, Any]], "Term"]
Vjp = Callable[[Any, "Term", "Term"], tuple["Term | None", ...]]
"""An op's vector-Jacobian product: `vjp(b, node, g)` gives, for each operand of `node`, the
cotangent that the output cotangent `g` (shaped like `node`) sends to it, shaped like that
operand, or None for an operand no gradient flows into (a bool condition). `b` is the builder
kit of `frittata.autodiff.kit` (every builder, plus `sum_to` and the other gradient helpers), so
a template names the ops it builds without importing their families."""


@dataclass(frozen=True, slots=True)
class Onnx:
    """The ONNX operator an op maps to one-to-one: `op_type`, attributes (ours -> theirs).

    Import builds the op from the node's inputs and attributes; export emits one node. Ops
    that need more give `onnx_import` / `onnx_export` functions instead (or as well).
    """

    op_type: str
    attrs: Mapping[str, str] = field(default_factory=dict)


_BY_NAME: dict[str, Op] = {}


class _Table(type):
    """The metaclass of `Op`: `Op.NAME` looks up a registered op, `iter(Op)` lists them."""

    def __getattr__(cls, attr: str) -> Op:
        if attr.isupper() and attr.lower() in _BY_NAME:
            return _BY_NAME[attr.lower()]
        raise AttributeError(f"Op has no operator {attr!r}; registered: {sorted(_BY_NAME)}")

    def __iter__(cls) -> Iterator[Op]:
        return iter(list(_BY_NAME.values()))

    def __len__(cls) -> int:
        return len(_BY_NAME)


@dataclass(frozen=True, eq=False, slots=True)
class Op(metaclass=_Table):
    """One operator of the term language (see the module docstring); built with `define`."""

    name: str
    arity: Arity
    infer: Infer
    attrs: tuple[Attr, ...] = ()
    evaluate: Evaluate | None = None
    expand: Expand | None = None
    classes: frozenset[str] = frozenset()
    cost: Cost = Cost.ELEMENTWISE
    scalar: Callable[..., Any] | None = None
    onnx: Onnx | None = None
    onnx_import: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    onnx_export: Callable[..., str] | None = None
    vjp: Vjp | None = None
    doc: str = ""

    @property
    def value(self) -> str:
        """The name, as the enum this class replaces spelled it."""
        return self.name

    @property
    def attr_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attrs)

    def is_a(self, cls: str) -> bool:
        return cls in self.classes

    def canonical(self, values: Mapping[str, Any], first: TensorType | None = None) -> Attrs:
        """Attributes in declaration order and normal form, defaults filled in; unknown raise."""
        unknown = set(values) - set(self.attr_names)
        if unknown:
            raise FrittataTypeError(f"{self.name}: expected attributes among {self.attr_names},"
                                    f" got {sorted(unknown)}")
        out = []
        for spec in self.attrs:
            value = values.get(spec.name, spec.default)
            if value is REQUIRED:
                raise FrittataTypeError(f"{self.name}: expected attribute {spec.name!r}, got none")
            out.append((spec.name, spec.normalize(plain(value), first)))
        return tuple(out)

    def __repr__(self) -> str:
        return f"Op.{self.name.upper()}"

    def __reduce__(self) -> tuple:
        return (lookup, (self.name,))


OpDef = Op
BY_NAME: Mapping[str, Op] = _BY_NAME
"""Every registered op by name (a live view of the table)."""
_sealed = False


def define(name: str, arity: Arity | int, infer: Infer, *, classes: tuple[str, ...] = (),
           **fields: Any) -> Op:
    """Build and register the op `name`; an int arity means a fixed operand count."""
    unknown = set(classes) - set(CLASSES)
    if unknown:
        raise AssertionError(f"op {name!r}: unknown op classes {sorted(unknown)}; known: {sorted(CLASSES)}")
    if name in _BY_NAME:
        raise AssertionError(f"op {name!r} is registered twice")
    op = Op(name, fixed(arity) if isinstance(arity, int) else arity, infer,
            classes=frozenset(classes), **fields)
    _BY_NAME[name] = op
    _CLASS_CACHE.clear()
    return op


def lookup(name: str) -> Op:
    """The registered op named `name`."""
    if name not in _BY_NAME:
        raise FrittataTypeError(f"expected an operator name, got {name!r}")
    return _BY_NAME[name]


def seal() -> None:
    """Mark the table complete (called once every family is imported); class queries need it."""
    global _sealed
    _sealed = True


_CLASS_CACHE: dict[str, frozenset[Op]] = {}


def ops_in_class(name: str) -> list[Op]:
    """The registered ops of op class `name` (one of `CLASSES`), in registration order."""
    if name not in CLASSES:
        raise FrittataTypeError(f"expected an op class in {sorted(CLASSES)}, got {name!r}")
    if not _sealed:
        raise AssertionError("ops_in_class before every op family registered (import frittata.terms first)")
    return [op for op in _BY_NAME.values() if name in op.classes]


def class_set(name: str) -> frozenset[Op]:
    """`ops_in_class` as a frozenset (cached)."""
    if name not in _CLASS_CACHE:
        _CLASS_CACHE[name] = frozenset(ops_in_class(name))
    return _CLASS_CACHE[name]


def plain(value: Any) -> Any:
    """numpy scalars to Python numbers, lists to tuples (recursively)."""
    if isinstance(value, (list, tuple)):
        return tuple(plain(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


_SETS = {"UNARY": "unary", "BINARY": "binary", "ELEMENTWISE": "elementwise", "REDUCTIONS": "reduction",
         "KERNELS": "kernel", "TILED": "tiled", "VTA": "vta", "LEAVES": "leaf"}


def __getattr__(name: str) -> frozenset[Op]:
    """`UNARY`, `BINARY`, ... as frozensets of the ops of that class (module attributes)."""
    if name in _SETS:
        return class_set(_SETS[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
