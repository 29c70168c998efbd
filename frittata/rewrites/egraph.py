"""The egglog adapter: every egglog-specific declaration and call of frittata lives here.

Encoding. One egglog sort, `Tensor`, stands for an e-class of tensors. An e-node is
`n<k>(op, attrs, child_1 .. child_k)`: the operator name (an `Op` value, as a String), its
attributes as a Python literal tuple (a PyObject; a parameter carries only `(("name", n),)`,
its data stays in Python) and k child e-classes. Two analyses, kept saturated by `ANALYSIS`:

  ty(t)         the tensor type of class t, as the literal `(shape, dtype)`; set for every
                inserted node, inferred by `frittata.terms.infer` for nodes built by rules
  param_only(t) t is computed from parameters and constants only (foldable after extraction)

Programs go in SSA-style, one `let` per term node, so sharing is kept and depth never recurses.
`EGraphHandle.data()` reads the e-graph back as plain Python data (`EGraphData`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from egglog import (Bool, EGraph, Expr, PyObject, String, StringLike, eq, function, relation, rule,
                    ruleset, set_, var)
from egglog.declarations import RuleDecl

from frittata.errors import FrittataTypeError, RewriteError
from frittata.rewrites.data import EGraphData, build_data
from frittata.rewrites.literals import parse_literal
from frittata.terms.dtypes import TensorType
from frittata.terms.infer import infer_type
from frittata.terms.ops import BY_NAME, Op
from frittata.terms.program import Program
from frittata.terms.term import Term

MAX_ARITY = 8


class Tensor(Expr):
    """An e-class of tensors."""


@function
def n0(op: StringLike, attrs: PyObject) -> Tensor: ...
@function
def n1(op: StringLike, attrs: PyObject, a: Tensor) -> Tensor: ...
@function
def n2(op: StringLike, attrs: PyObject, a: Tensor, b: Tensor) -> Tensor: ...
@function
def n3(op: StringLike, attrs: PyObject, a: Tensor, b: Tensor, c: Tensor) -> Tensor: ...
@function
def n4(op: StringLike, attrs: PyObject, a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Tensor: ...
@function
def n5(op: StringLike, attrs: PyObject, a: Tensor, b: Tensor, c: Tensor, d: Tensor, e: Tensor) -> Tensor: ...
@function
def n6(op: StringLike, attrs: PyObject, a: Tensor, b: Tensor, c: Tensor, d: Tensor, e: Tensor,
       f: Tensor) -> Tensor: ...
@function
def n7(op: StringLike, attrs: PyObject, a: Tensor, b: Tensor, c: Tensor, d: Tensor, e: Tensor,
       f: Tensor, g: Tensor) -> Tensor: ...
@function
def n8(op: StringLike, attrs: PyObject, a: Tensor, b: Tensor, c: Tensor, d: Tensor, e: Tensor,
       f: Tensor, g: Tensor, h: Tensor) -> Tensor: ...


@function(merge=lambda old, new: old)
def ty(t: Tensor) -> PyObject: ...


param_only = relation("param_only", Tensor)

CONSTRUCTORS: tuple[Callable[..., Tensor], ...] = (n0, n1, n2, n3, n4, n5, n6, n7, n8)
_EGG_PREFIX = __name__.replace(".", "_")
_EGG_NAMES = {f"{_EGG_PREFIX}_n{k}": k for k in range(MAX_ARITY + 1)}
_EGG_TY = f"{_EGG_PREFIX}_ty"


class _Typed:
    """A stand-in argument for `infer_type`: only `.type` is read."""

    __slots__ = ("type",)

    def __init__(self, literal: tuple) -> None:
        self.type = TensorType(tuple(literal[0]), literal[1])


def infer_literal(op: str, attrs: tuple, *child_types: tuple) -> tuple:
    """The `(shape, dtype)` literal of a node built by a rule (called from egglog)."""
    ty_ = infer_type(BY_NAME[op], tuple(_Typed(t) for t in child_types), dict(attrs))
    return (ty_.shape, ty_.dtype)


def node(op: str | String, attrs: PyObject, children: tuple[Tensor, ...]) -> Tensor:
    """The e-node expression `op(attrs; children)`."""
    if len(children) > MAX_ARITY:
        raise RewriteError(f"e-graph encoding: expected at most {MAX_ARITY} operands, got {len(children)} for {op}")
    return CONSTRUCTORS[len(children)](op, attrs, *children)


def _analysis_rules() -> Iterable:
    t, at, op = var("t", Tensor), var("at", PyObject), var("op", String)
    yield rule(eq_(t, n0("const", at))).then(
        set_(ty(t)).to(PyObject(infer_literal)(PyObject("const"), at)), param_only(t))
    yield rule(eq_(t, n0("param", at))).then(param_only(t))
    for k in range(1, MAX_ARITY + 1):
        cs = [var(f"c{i}", Tensor) for i in range(k)]
        tys = [var(f"y{i}", PyObject) for i in range(k)]
        lhs = node(op, at, tuple(cs))
        yield rule(eq_(t, lhs), *(eq_(ty(c), y) for c, y in zip(cs, tys))).then(
            set_(ty(t)).to(PyObject(infer_literal)(PyObject.from_string(op), at, *tys)))
        yield rule(eq_(t, lhs), *(param_only(c) for c in cs)).then(param_only(t))


def eq_(a, b):
    """The egglog fact `a == b` (query side)."""
    return eq(a).to(b)


def is_true(py: PyObject):
    """The query fact: the PyObject `py` is truthy."""
    return eq_(PyObject(bool)(py).to_bool(), Bool(True))


ANALYSIS = ruleset(*_analysis_rules(), name="frittata-analysis")


def encode_attrs(term: Term) -> tuple:
    """A term's attributes as a Python literal (a parameter keeps only its name)."""
    if term.op == Op.PARAM:
        return (("name", term.attr("ref").name),)
    return term.attrs


class EGraphHandle:
    """A live e-graph holding one program; the only object that talks to egglog."""

    def __init__(self, program: Program) -> None:
        self.egraph = EGraph()
        self.program = program
        self.params = dict(program.params)
        self._insert(program)

    def _insert(self, program: Program) -> None:
        env: dict[int, Tensor] = {}
        for i, term in enumerate(program.terms()):
            expr = node(term.op.value, PyObject(encode_attrs(term)), tuple(env[id(a)] for a in term.args))
            env[id(term)] = self.egraph.let(f"t{i}", expr)
            self.egraph.register(set_(ty(env[id(term)])).to(PyObject((term.shape, term.dtype))))
        self.egraph.run(ANALYSIS.saturate())

    def run(self, rules, iterations: int = 1) -> dict[str, int]:
        """Run `rules` for some iterations, then the analyses; per-rule match counts."""
        try:
            report = self.egraph.run(iterations, ruleset=rules)
            self.egraph.run(ANALYSIS.saturate())
        except FrittataTypeError as err:
            raise RewriteError(f"saturation: a rule built an ill-typed node: {err}") from err
        counts = {decl.name: n for decl, n in report.num_matches_per_rule.items()
                  if isinstance(decl, RuleDecl) and decl.name}
        counts["__updated__"] = int(report.updated)
        return counts

    def size(self) -> int:
        """Rows of every table: e-nodes plus analysis rows (egglog's own measure of size)."""
        return sum(n for _, n in self.egraph.all_function_sizes())

    def push(self) -> None:
        self.egraph.push()

    def pop(self) -> None:
        self.egraph.pop()

    def data(self) -> EGraphData:
        """The e-graph as plain Python data (see `EGraphData`)."""
        raw = json.loads(self.egraph._egraph.serialize([]).to_json())
        return build_data(decode_nodes(raw), self.program, self.params)


def decode_nodes(raw: dict) -> tuple[list[tuple[str, str, tuple, list[str]]], dict[str, tuple]]:
    """Serialized egglog JSON -> (e-nodes as (class, op, attrs, child classes), class types)."""
    nodes = raw["nodes"]
    prim = {v["eclass"]: v["op"] for v in nodes.values() if not v["children"]}
    enodes, types = [], {}
    for entry in nodes.values():
        name, kids = entry["op"], entry["children"]
        if name in _EGG_NAMES:
            op = json.loads(nodes[kids[0]]["op"])
            attrs = parse_literal(nodes[kids[1]]["op"])
            enodes.append((entry["eclass"], op, attrs, [nodes[c]["eclass"] for c in kids[2:]]))
        elif name == _EGG_TY:
            types[nodes[kids[0]]["eclass"]] = parse_literal(prim[entry["eclass"]])
    return enodes, types
