"""Random instances of a rule's left side, for property checking.

The left pattern is built bottom-up as a real term. A tensor variable becomes a leaf (a
`param` if a `param-only` guard names it, else an `input`) whose type is proposed from its
operator, position and already-built siblings (a conv2d weight fits its input, a bias has the
output's channels, a residual has the output's shape, ...). Attributes not fixed by the
pattern are sampled per operator; a `dtype-is` guard on a variable sets its leaf's dtype.
Dimensions come from a small per-instance palette, so equal
dimensions — which guards often want — are likely. Ill-typed attempts return None; the
checker simply tries again.
"""

from __future__ import annotations

import numpy as np

from frittata.errors import FrittataTypeError
from frittata.rewrites.exprs import Lit, Var, evaluate
from frittata.rewrites.proposals import propose, sample_attr
from frittata.rewrites.rules import Pattern, PNode, Rule
from frittata.rewrites.signature import OP_ATTRS, canonical_attrs
from frittata.terms.builders import param, var
from frittata.terms.dtypes import TensorType, is_int
from frittata.terms.infer import FLOAT_ONLY
from frittata.terms.ops import BINARY, Op
from frittata.terms.term import Term

_DIMS = (1, 2, 3, 4, 8, 16)
_FLOAT_OPS = FLOAT_ONLY | {Op.BATCH_NORM, Op.LAYER_NORM, Op.SOFTMAX, Op.AVG_POOL2D,
                           Op.GLOBAL_AVG_POOL, Op.REDUCE_MEAN}
_RANK = {Op.CONV2D: 4, Op.FUSED_CONV2D: 4, Op.PACK_NCHWC: 4, Op.UNPACK_NCHWC: 5, Op.BATCH_NORM: 4,
         Op.MAX_POOL2D: 4, Op.AVG_POOL2D: 4, Op.GLOBAL_AVG_POOL: 4, Op.DENSE: 2, Op.FUSED_DENSE: 2,
         Op.MATMUL: 2}


class Instance:
    """One left-side instance: its term and the variable environment of the match."""

    def __init__(self, rule: Rule, rng: np.random.Generator) -> None:
        self.rule, self.rng = rule, rng
        self.palette = tuple(rng.choice(_DIMS, size=int(rng.integers(2, 4)), replace=False))
        self.params = {a.name for g in rule.guards if g.fn == "param-only" for a in g.args if isinstance(a, Var)}
        self.dtypes: dict[str, str] = {g.args[0].name: str(g.args[1].value) for g in rule.guards
                       if g.fn == "dtype-is" and isinstance(g.args[0], Var) and isinstance(g.args[1], Lit)}
        self.terms: dict[str, Term] = {}
        self.env: dict[str, object] = {}

    def build(self) -> Term | None:
        """The left side as a term, or None if this attempt is ill-typed."""
        try:
            lhs = self._node(self.rule.lhs, None)
        except (FrittataTypeError, ValueError, IndexError, KeyError, ZeroDivisionError):
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
            return self._node(arg, self._propose(p, i, prev, attrs, hint))
        if arg.name in self.terms:
            return self.terms[arg.name]
        ty = self._propose(p, i, prev, attrs, hint)
        if arg.name in self.dtypes:  # a dtype-is guard names the leaf's dtype
            ty = TensorType(ty.shape, self.dtypes[arg.name])
        term = self._leaf(arg.name, ty)
        self.terms[arg.name], self.env[arg.name] = term, ty
        return term

    def _leaf(self, name: str, ty: TensorType) -> Term:
        if name in self.params:
            return param(name, random_array(ty, self.rng))
        return var(name, ty.shape, ty.dtype)

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
        return sample_attr(self, p, name, args, hint)

    def dims(self, rank: int) -> tuple[int, ...]:
        return tuple(int(self.rng.choice(self.palette)) for _ in range(rank))

    def free_type(self, op: Op, hint: TensorType | None) -> TensorType:
        """A type for a first operand with nothing to fit."""
        if hint is not None and (op in BINARY or op in _FLOAT_OPS or op not in _RANK):
            return hint
        rank = _RANK.get(op, int(self.rng.integers(0, 5)))
        float_only = op in _FLOAT_OPS
        dtype = "float32" if float_only else str(self.rng.choice(["float32", "float32", "int32", "int8"]))
        if op == Op.RIGHT_SHIFT and not is_int(dtype):
            dtype = "int32"
        return TensorType(self.dims(rank), dtype)


def random_array(ty: TensorType, rng: np.random.Generator, positive: bool = False) -> np.ndarray:
    """Random data of a type: signed normals or positive values for floats, full-ish int ranges."""
    if ty.dtype == "bool":
        return rng.random(ty.shape) < 0.5
    if is_int(ty.dtype):
        info = np.iinfo(ty.dtype)
        lo, hi = max(info.min, -1000), min(info.max, 1000)
        return rng.integers(lo, hi, size=ty.shape, endpoint=True).astype(ty.dtype)
    data = rng.uniform(0.5, 2.0, ty.shape) if positive else rng.standard_normal(ty.shape)
    return np.asarray(data, dtype=ty.dtype)
