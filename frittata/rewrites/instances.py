"""Random instances of a rule's left side, for property checking.

The left pattern is built bottom-up as a real term. A tensor variable becomes a leaf (a
`param` if a `param-only` guard names it, else an `input`) whose type is proposed from its
operator, position and already-built siblings (a conv2d weight fits its input, a bias has the
output's channels, a residual has the output's shape, ...). Attributes not fixed by the
pattern are sampled per operator. A leaf's dtype comes from the instance's dtype variant
(`dtype_variants`: every dtype its guards admit, so `is-8-bit` is tried on int8 and on uint8).
A leaf's data comes from the valid domain of the operand it feeds (`DOMAINS`: a batch-norm
variance is positive, a divisor non-zero), so an instance is not vacuous by construction.
An integer leaf no guard names sometimes takes another integer dtype, and any leaf is
sometimes a parameter (a contraction's weights and bias together in half the instances), so
a dropped dtype or param-only guard shows (backends specialize on both). Dimensions come from
a small per-instance palette, so equal dimensions — which guards often want — are likely;
rules producing sized kernels or testing divisibility by a block draw from a wider palette,
so blocks, remainders and sizes past one block all occur; dense and matmul inputs are
sometimes batched (rank 3). Ill-typed attempts return None; the checker
simply tries again.
"""

from __future__ import annotations

import numpy as np

from frittata.errors import FrittataTypeError
from frittata.rewrites.exprs import Call, Lit, Tup, Var, evaluate
from frittata.rewrites.proposals import propose, sample_attr
from frittata.rewrites.rule_format import Pattern, PNode, PSeq, PVar, Rule
from frittata.rewrites.signature import OP_ATTRS, canonical_attrs
from frittata.terms.builders import param, var
from frittata.terms.dtypes import INT_DTYPES, TensorType, is_int
from frittata.terms.infer import FLOAT_ONLY
from frittata.terms.ops import BINARY, TILED, VTA, Op, class_set
from frittata.terms.term import Term

_DIMS = (1, 2, 3, 4, 8, 16)
_WIDE_DIMS = (1, 3, 8, 13, 16, 24, 33, 40, 70)  # blocks of 4..48 with and without remainders
_MAX_LEAF = 1 << 17  # elements: keeps the interpreter fast on the wide palette
_FLOAT_OPS = FLOAT_ONLY | {Op.BATCH_NORM, Op.LAYER_NORM, Op.SOFTMAX, Op.AVG_POOL2D,
                           Op.GLOBAL_AVG_POOL, Op.REDUCE_MEAN}
# The valid domain of an operand, by (operator, position); "any" elsewhere.
DOMAINS = {(Op.BATCH_NORM, 4): "positive", (Op.DIV, 1): "nonzero", (Op.SQRT, 0): "positive",
           (Op.LOG, 0): "positive", (Op.POW, 0): "positive", (Op.TAKE, 1): "index"}
# Dtypes admitted by a dtype guard on a leaf (`dtype-is` admits the dtype it names).
GUARD_DTYPES = {"is-8-bit": ("int8", "uint8"), "is-float": ("float32",), "is-wide-float": ("float32", "float64"),
                "is-int": INT_DTYPES}
# Ranks of a first operand with nothing to fit (a contraction's input is sometimes batched; a
# matmul's in half the instances, since only a batched input can meet batched weights).
_RANK = {Op.CONV2D: (4,), Op.FUSED_CONV2D: (4,), Op.PACK_NCHWC: (4,), Op.UNPACK_NCHWC: (5,), Op.BATCH_NORM: (4,),
         Op.MAX_POOL2D: (4,), Op.AVG_POOL2D: (4,), Op.GLOBAL_AVG_POOL: (4,), Op.DENSE: (1, 2, 2, 3),
         Op.FUSED_DENSE: (2, 2, 3), Op.MATMUL: (2, 3), Op.VTA_UNPACK: (4,)}
# Guards that test a dimension against a block size: their rules draw from the wide palette,
# as do rules whose guards compute with dimensions (a word count, a reduction's length).
_BLOCK_GUARDS = frozenset({"divisible", "not-divisible", "fits-block"})
_ARITHMETIC = frozenset({"+", "-", "*", "//"})
# Integer dtypes an unguarded integer leaf may take instead of its sibling's (a dtype guard,
# when dropped, must be missed by some instance).
_INT_WANDER = ("int8", "uint8", "int32")
_CONTRACTIONS = frozenset({Op.CONV2D, Op.DENSE, Op.MATMUL, Op.FUSED_CONV2D, Op.FUSED_DENSE})
_PARAM_RATE = 0.3  # a leaf no param-only guard names is a parameter this often (backends pack weights)


def dtype_variants(rule: Rule) -> list[dict[str, str]]:
    """Every combination of the dtypes the guards admit for the rule's leaves ([{}] if none)."""
    leaves = _leaf_names(rule.lhs)
    admitted: dict[str, tuple[str, ...]] = {}
    for guard in rule.guards:
        if not guard.args or not isinstance(guard.args[0], Var) or guard.args[0].name not in leaves:
            continue
        if guard.fn == "dtype-is" and len(guard.args) == 2 and isinstance(guard.args[1], Lit):
            dtypes: tuple[str, ...] = (str(guard.args[1].value),)
        elif guard.fn in GUARD_DTYPES:
            dtypes = GUARD_DTYPES[guard.fn]
        else:
            continue
        name = guard.args[0].name
        admitted[name] = tuple(d for d in admitted.get(name, dtypes) if d in dtypes)
    variants: list[dict[str, str]] = [{}]
    for name, dtypes in sorted(admitted.items()):
        variants = [{**v, name: d} for v in variants for d in dtypes]
    return variants


def _leaf_names(p: Pattern | PSeq) -> set[str]:
    match p:
        case PVar():
            return {p.name}
        case PSeq():
            return set()
        case PNode():
            return set().union(*(_leaf_names(a) for a in p.args))


def rhs_ops(rule: Rule) -> set[Op]:
    """The operators the rule's right side builds."""
    return _ops(rule.rhs)


def _ops(p: Pattern | PSeq) -> set[Op]:
    return {p.op}.union(*(_ops(a) for a in p.args)) if isinstance(p, PNode) else set()


def wants_wide_dims(rule: Rule) -> bool:
    """Whether sizes past a block matter: the right side makes a sized kernel (a fused epilogue,
    a tiled schedule, a VTA block), a guard tests divisibility by a block, a guard computes
    with dimensions (its arithmetic meets sizes where the cases differ), or the left side is a
    contraction over integers a guard admits (long reductions are where integer sums overflow
    or stop being exact in float32)."""
    sized = TILED | VTA | class_set("fused")
    integer = any(is_int(d) for v in dtype_variants(rule) for d in v.values())
    return (bool(rhs_ops(rule) & sized) or any(g.fn in _BLOCK_GUARDS for g in rule.guards)
            or any(dims_arithmetic(g) for g in rule.guards) or (integer and bool(_ops(rule.lhs) & _CONTRACTIONS)))


def size_sensitive(rule: Rule) -> bool:
    """Whether a rule's soundness turns on sizes, so that it is checked on more instances: its
    guards compute with dimensions, or its right side casts to a float dtype its left side
    never casts to (float32 holds integers exactly only below 2^24, which long reductions of
    large values pass)."""
    floats = _cast_dtypes(rule.rhs) - _cast_dtypes(rule.lhs)
    return any(dims_arithmetic(g) for g in rule.guards) or any(not is_int(d) for d in floats)


def _cast_dtypes(p: Pattern | PSeq) -> set[str]:
    if not isinstance(p, PNode):
        return set()
    given = dict(p.attrs).get("dtype") if p.op == Op.CAST else None
    own = {str(given.value)} if isinstance(given, Lit) else set()
    return own.union(*(_cast_dtypes(a) for a in p.args))


def dims_arithmetic(expr) -> bool:
    """Whether a guard expression does arithmetic on a `dim` (anywhere in it, `[...]` too)."""
    if isinstance(expr, Call) and expr.fn in _ARITHMETIC and any(_mentions_dim(a) for a in expr.args):
        return True
    return any(dims_arithmetic(a) for a in _parts(expr))


def reads_dims(rule: Rule) -> bool:
    """Whether a guard reads a dimension (`dim`). Such a rule is also checked on instances whose
    every dimension is 1 or one size above (`Instance(unit=True)`), so that each dimension the
    guard reads is 1 while its neighbours are not, and the other way round: a size-1 axis
    broadcasts, so a guard reading the wrong axis shows only there."""
    return any(_mentions_dim(g) for g in rule.guards)


def _mentions_dim(expr) -> bool:
    return (isinstance(expr, Call) and expr.fn == "dim") or any(_mentions_dim(a) for a in _parts(expr))


def _parts(expr) -> tuple:
    """The sub-expressions of a guard expression: a call's arguments, a tuple's items."""
    match expr:
        case Call(args=parts) | Tup(items=parts):
            return parts
        case _:
            return ()


class Instance:
    """One left-side instance: its term and the variable environment of the match.

    `dtypes` fixes leaf dtypes (one of `dtype_variants`). `unit` draws every dimension from
    size 1 and one size above it (see `reads_dims`).
    """

    def __init__(self, rule: Rule, rng: np.random.Generator, dtypes: dict[str, str] | None = None,
                 unit: bool = False) -> None:
        self.rule, self.rng = rule, rng
        dims = _WIDE_DIMS if wants_wide_dims(rule) else _DIMS
        self.palette: tuple[int, ...]
        if unit:
            self.palette = (1, int(rng.choice([d for d in dims if d > 1])))
        else:
            self.palette = tuple(int(d) for d in rng.choice(dims, size=int(rng.integers(2, 4)), replace=False))
        self.params = {a.name for g in rule.guards if g.fn == "param-only" for a in g.args if isinstance(a, Var)}
        self.params |= {n for n in sorted(_leaf_names(rule.lhs)) if rng.random() < _PARAM_RATE}
        self.weights_params = bool(rng.random() < 0.5)  # a contraction's weights and bias, as in a model
        self.dtypes: dict[str, str] = dict(dtypes or {})
        self.terms: dict[str, Term] = {}
        self.env: dict[str, object] = {}
        self.domains: dict[str, str] = {}  # leaf name -> domain of its data
        self.parents: list[tuple[Op, int]] = []  # (operator, position) above the node being built
        self.positive = bool(rng.random() < 0.5)  # unconstrained float data: positive or normal

    def build(self) -> Term | None:
        """The left side as a term, or None if this attempt is ill-typed."""
        try:
            lhs = self._node(self.rule.lhs, None)
        except (FrittataTypeError, ValueError, IndexError, KeyError, ZeroDivisionError, _TooLarge):
            return None
        self.env["$root"] = lhs.type
        return lhs

    def _node(self, p: PNode, hint: TensorType | None) -> Term:
        """Operands left to right; attributes right after the first operand (they fit it)."""
        args: list[Term] = []
        attrs = self._attrs(p, args, hint) if not p.args else {}
        for i, arg in enumerate(p.args):
            args.append(self._arg(p, i, arg, args, attrs, hint))
            if i == 0:
                attrs = self._attrs(p, args, hint)
        term = Term.make(p.op, tuple(args), canonical_attrs(p.op, attrs))
        if p.bind:
            self.terms[p.bind], self.env[p.bind] = term, term.type
        return term

    def _arg(self, p: PNode, i: int, arg: Pattern, prev: list[Term], attrs: dict, hint) -> Term:
        if isinstance(arg, PNode):
            self.parents.append((p.op, i))
            try:
                return self._node(arg, self._propose(p, i, prev, attrs, hint))
            finally:
                self.parents.pop()
        if arg.name in self.terms:
            return self.terms[arg.name]
        ty = self._propose(p, i, prev, attrs, hint)
        if arg.name in self.dtypes:  # the variant names the leaf's dtype
            ty = TensorType(ty.shape, self.dtypes[arg.name])
        elif ty.dtype in _INT_WANDER and self.rng.random() < 0.25:
            ty = TensorType(ty.shape, str(self.rng.choice(_INT_WANDER)))
        if ty.size > _MAX_LEAF:
            raise _TooLarge(ty)
        term = self._leaf(arg.name, ty, p.op, i)
        self.terms[arg.name], self.env[arg.name] = term, ty
        return term

    def _leaf(self, name: str, ty: TensorType, op: Op, position: int) -> Term:
        """A leaf for operand `position` of `op`, its data from that operand's domain."""
        self.domains[name] = DOMAINS.get((op, position), "any")
        if self.weights_params and op in _CONTRACTIONS and position in (1, 2):
            self.params.add(name)
        if name in self.params:
            return param(name, self.data(name, ty))
        return var(name, ty.shape, ty.dtype)

    def data(self, leaf: str, ty: TensorType) -> np.ndarray:
        """Random data for a leaf, from the domain of the operand it feeds."""
        return random_array(ty, self.rng, self._domain(leaf))

    def edge_data(self, leaf: str, ty: TensorType, rng: np.random.Generator) -> np.ndarray:
        """Data for an integer leaf at an edge of its operand's domain (`edge_array`), drawn
        from `rng` (not the instance's own generator, so that drawing it changes no instance)."""
        return edge_array(ty, rng, self._domain(leaf))

    def _domain(self, leaf: str) -> str:
        domain = self.domains.get(leaf, "any")
        return ("positive" if self.positive else "any") if domain == "any" else domain

    def _attrs(self, p: PNode, args: list[Term], hint: TensorType | None = None) -> dict:
        given = dict(p.attrs)
        out = {}
        for name in OP_ATTRS[p.op]:
            expr = given.get(name)
            if isinstance(expr, Var) and expr.name in self.env:
                out[name] = self.env[expr.name]
            elif expr is not None and not isinstance(expr, Var):
                out[name] = evaluate(expr, self.env)
            else:
                out[name] = self._sample(p, name, args, hint)
                if isinstance(expr, Var):
                    self.env[expr.name] = out[name]
        return out

    def _propose(self, p: PNode, i: int, prev: list[Term], attrs: dict, hint) -> TensorType:
        return propose(self, p, i, prev, attrs, hint)

    def _sample(self, p: PNode, name: str, args: list[Term], hint) -> object:
        value = sample_attr(self, p, name, args, hint)
        scale = self.parents and self.parents[-1][0] in (Op.MUL, Op.DIV)
        if p.op == Op.CONST and name == "value" and value == 0 and scale:
            return 1  # a zero scale makes the instance vacuous (x * 0 == y * 0)
        return value

    def dims(self, rank: int) -> tuple[int, ...]:
        return tuple(int(self.rng.choice(self.palette)) for _ in range(rank))

    def free_type(self, op: Op, hint: TensorType | None) -> TensorType:
        """A type for a first operand with nothing to fit."""
        if hint is not None and (op in BINARY or op in _FLOAT_OPS or op not in _RANK):
            return hint
        rank = int(self.rng.choice(_RANK[op])) if op in _RANK else int(self.rng.integers(0, 5))
        float_only = op in _FLOAT_OPS
        dtype = "float32" if float_only else str(self.rng.choice(["float32", "float32", "int32", "int8"]))
        if op == Op.RIGHT_SHIFT and not is_int(dtype):
            dtype = "int32"
        return TensorType(self.dims(rank), dtype)


class _TooLarge(Exception):
    """A leaf bigger than `_MAX_LEAF` elements: this attempt is dropped."""


def random_array(ty: TensorType, rng: np.random.Generator, domain: str = "any") -> np.ndarray:
    """Random data of a type within a domain: "any" (signed normals for floats), "positive"
    (floats in [0.5, 2)) or "nonzero" (magnitudes in [0.5, 2), either sign); integers across
    a full-ish range (positive or non-zero where the domain says so), or, for "index", -1 and
    0 (the last and the first position, valid on an axis of any size)."""
    if ty.dtype == "bool":
        return rng.random(ty.shape) < 0.5
    if is_int(ty.dtype):
        return _random_ints(ty, rng, domain)
    match domain:
        case "any":
            data = rng.standard_normal(ty.shape)
        case "positive":
            data = rng.uniform(0.5, 2.0, ty.shape)
        case "nonzero":
            data = rng.uniform(0.5, 2.0, ty.shape) * rng.choice([-1.0, 1.0], ty.shape)
        case _:
            raise ValueError(f"expected a domain any, positive or nonzero, got {domain!r}")
    return np.asarray(data, dtype=ty.dtype)


def edge_array(ty: TensorType, rng: np.random.Generator, domain: str = "any") -> np.ndarray:
    """Integer data at one edge of the range `random_array` draws from (its top tenth, or its
    bottom tenth where that is negative; one edge per array): products and sums are then as
    large as the data allows, so a rule that is exact only while they stay small shows. Index
    data stays in range (`random_array`'s)."""
    if domain == "index":
        return _random_ints(ty, rng, domain)
    lo, hi = _int_range(ty.dtype, domain)
    width = max(1, (hi - lo) // 10)
    low = lo < 0 and rng.random() < 0.5
    data = rng.integers(lo if low else hi - width, lo + width if low else hi, size=ty.shape, endpoint=True)
    return np.where(data == 0, 1, data).astype(ty.dtype) if domain == "nonzero" else data.astype(ty.dtype)


def _int_range(dtype: str, domain: str) -> tuple[int, int]:
    """The integers drawn: the dtype's range within [-1000, 1000], from 1 if positive."""
    info = np.iinfo(dtype)
    return (1 if domain == "positive" else max(info.min, -1000)), min(info.max, 1000)


def _random_ints(ty: TensorType, rng: np.random.Generator, domain: str) -> np.ndarray:
    if domain == "index":  # in range of any axis: the first and the last position
        return rng.integers(-1, 0, size=ty.shape, endpoint=True).astype(ty.dtype)
    lo, hi = _int_range(ty.dtype, domain)
    data = rng.integers(lo, hi, size=ty.shape, endpoint=True)
    if domain == "nonzero":
        data = np.where(data == 0, 1, data)
    return data.astype(ty.dtype)
