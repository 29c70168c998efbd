"""The egglog adapter: every egglog-specific declaration and call of frittata lives here.

Encoding. Two egglog sorts: `Tensor`, an e-class of tensors, and `Operands`, an e-class of
operand sequences. An e-node is `apply(op, attrs, operands)`: the operator name (an `Op`
value, as a String), its attributes as a Python literal tuple (a PyObject; a parameter carries
only `(("name", n),)`, its data stays in Python) and its operands, a cons list
`cons(t1, cons(t2, ... nil))` of tensor classes. So any operand count is one constructor, and
a rule's tail sequence variable (`?xs...`) is simply an `Operands` variable.

Why a cons list and not egglog's `Vec[Tensor]` (measured): a nested pattern such as
`(add (dense ?x ?w) ?b)` is a join on table columns over cons cells, whereas `vec-get` on a
Vec is a primitive computed after the join; matching it over n `add`s and n `dense`s took
0.21 s (n=250) and 4.6 s (n=1000) with a Vec against 0.07 s and 0.13 s with cons lists.
Lists also share their tails between nodes, and the analyses below are ordinary rules over
`cons`, where a Vec needs an index loop. Containers such as Vec must never be unioned, while `Operands` classes are
unioned freely: `append(xs, ys)` (built by rules that splice sequences) is rewritten into
cons cells by `ANALYSIS`, so every list class holds exactly one `cons` or `nil` node.

Analyses, kept saturated by `ANALYSIS` (plus the demand seeds of a compiled rule set):

  ty(t)            the tensor type of class t, as the literal `(shape, dtype)`; set for every
                   inserted node, inferred by `frittata.terms.infer` for nodes built by rules
  types(l)         the tuple of `ty` of the operands in list l
  param_only(t)    t is computed from parameters and constants only (foldable after extraction)
  all_param(l)     every operand in l is `param_only`
  on_input(t)      t depends on a program input (so it is computed at run time, not folded)
  any_on_input(l)  some operand in l is `on_input`
  single_use(t)    t holds an inserted term that exactly one other term of the input program
                   uses (not an output); set at insertion, never inferred, so a class that rules
                   built lacks it. Fusing only such producers is what bounds elementwise
                   fusion: a producer with two consumers would be computed twice, and letting
                   every class be absorbed joins a whole network's residual chain into one
                   tree whose subtrees (times the operand orders `comm-add` adds) are counted
                   in tens of thousands
  last(l, p, x)    l = p ++ [x], on lists that some rule needs to cut before their last operand
  split(l, p, r)   l = p ++ r, for every such p and r, on lists that some rule needs to cut
                   elsewhere in the middle (O(n^2) rows for n operands, `last` only O(n))

`last` and `split` rows exist only for the operand lists of operators that a rule set names
in such patterns (and their tails): `wants(kind, l)`, seeded per operator by `cut_seed`.

Programs go in SSA-style, one `let` per term node (long operand lists also get a `let` every
`LET_EVERY` cells, so no expression nests deeply), so sharing is kept and depth never recurses.
`EGraphHandle.data()` reads the e-graph back as plain Python data (`EGraphData`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from egglog import (ActionLike, Bool, EGraph, Expr, PyObject, String, StringLike, eq, function, relation, rule,
                    ruleset, set_, union, unstable_combine_rulesets, var)
from egglog.declarations import RuleDecl

from frittata.errors import FrittataTypeError, RewriteError
from frittata.rewrites.data import EGraphData, build_data
from frittata.rewrites.literals import parse_literal
from frittata.terms.dtypes import TensorType
from frittata.terms.infer import infer_type
from frittata.terms.ops import BY_NAME, Op
from frittata.terms.program import Program
from frittata.terms.term import Term

LET_EVERY = 32
"""Cells of an inserted operand list between two `let`s (bounds expression depth)."""


class Tensor(Expr):
    """An e-class of tensors."""


class Operands(Expr):
    """An e-class of operand sequences (a cons list of tensor classes)."""


@function
def nil() -> Operands: ...
@function
def cons(head: Tensor, tail: Operands) -> Operands: ...
@function
def append(front: Operands, back: Operands) -> Operands: ...
@function
def apply(op: StringLike, attrs: PyObject, operands: Operands) -> Tensor: ...


@function(merge=lambda old, new: old)
def ty(t: Tensor) -> PyObject: ...
@function(merge=lambda old, new: old)
def types(operands: Operands) -> PyObject: ...


param_only = relation("param_only", Tensor)
all_param = relation("all_param", Operands)
on_input = relation("on_input", Tensor)
any_on_input = relation("any_on_input", Operands)
single_use = relation("single_use", Tensor)
wants = relation("wants", String, Operands)
last = relation("last", Operands, Operands, Tensor)
split = relation("split", Operands, Operands, Operands)

_SIZED = frozenset({"apply", "ty", "param_only"})
_EGG_PREFIX = __name__.replace(".", "_")
_EGG_APPLY, _EGG_CONS, _EGG_NIL, _EGG_TY = (f"{_EGG_PREFIX}_{n}" for n in ("apply", "cons", "nil", "ty"))


class _Typed:
    """A stand-in argument for `infer_type`: only `.type` is read."""

    __slots__ = ("type",)

    def __init__(self, literal: tuple) -> None:
        self.type = TensorType(tuple(literal[0]), literal[1])


def infer_literal(op: str, attrs: tuple, child_types: tuple = ()) -> tuple:
    """The `(shape, dtype)` literal of a node built by a rule (called from egglog)."""
    ty_ = infer_type(BY_NAME[op], tuple(_Typed(t) for t in child_types), dict(attrs))
    return (ty_.shape, ty_.dtype)


def _prepend(head: tuple, tail: tuple) -> tuple:
    return (head, *tail)


def operand_list(children: Iterable[Tensor | Operands], tail: Operands | None = None) -> Operands:
    """The list expression of `children` (tensors, or `Operands` spliced in) before `tail`."""
    items = list(children)
    last = items[-1] if items and tail is None else None
    acc = tail if tail is not None else nil()
    if isinstance(last, Operands):
        acc = last
        items.pop()
    for child in reversed(items):
        acc = append(child, acc) if isinstance(child, Operands) else cons(child, acc)
    return acc


def node(op: str | String, attrs: PyObject, children: tuple[Tensor, ...]) -> Tensor:
    """The e-node expression `op(attrs; children)`."""
    return apply(op, attrs, operand_list(children))


def eq_(a, b):
    """The egglog fact `a == b` (query side)."""
    return eq(a).to(b)


def is_true(py: PyObject):
    """The query fact: the PyObject `py` is truthy."""
    return eq_(PyObject(bool)(py).to_bool(), Bool(True))


def _list_rules() -> Iterable:
    """`append` into cons cells, and `last` / `split` of the lists some rule wants cut."""
    lst, tail, front, back = (var(n, Operands) for n in ("l", "tail", "front", "back"))
    head = var("head", Tensor)
    yield rule(eq_(lst, append(nil(), back))).then(union(lst).with_(back))
    yield rule(eq_(lst, append(cons(head, tail), back))).then(union(lst).with_(cons(head, append(tail, back))))
    kind = var("kind", String)
    yield rule(wants(kind, lst), eq_(lst, cons(head, tail))).then(wants(kind, tail))
    yield rule(wants(String("split"), lst)).then(split(lst, nil(), lst))
    yield rule(wants(String("split"), lst), eq_(lst, cons(head, tail)), split(tail, front, back)).then(
        split(lst, cons(head, front), back))
    yield rule(wants(String("last"), lst), eq_(lst, cons(head, tail)), eq_(tail, nil())).then(last(lst, tail, head))
    at = var("at", Tensor)
    yield rule(wants(String("last"), lst), eq_(lst, cons(head, tail)), last(tail, front, at)).then(
        last(lst, cons(head, front), at))


def _analysis_rules() -> Iterable:
    t, at, op = var("t", Tensor), var("at", PyObject), var("op", String)
    lst, tail, head = var("l", Operands), var("tail", Operands), var("head", Tensor)
    y, ys = var("y", PyObject), var("ys", PyObject)
    yield rule(eq_(lst, nil())).then(set_(types(lst)).to(PyObject(())))
    yield rule(eq_(lst, cons(head, tail)), eq_(ty(head), y), eq_(types(tail), ys)).then(
        set_(types(lst)).to(PyObject(_prepend)(y, ys)))
    yield rule(eq_(t, apply("const", at, lst))).then(
        set_(ty(t)).to(PyObject(infer_literal)(PyObject("const"), at)), param_only(t))
    yield rule(eq_(t, apply("param", at, lst))).then(param_only(t))
    yield rule(eq_(t, apply(op, at, lst)), eq_(lst, cons(head, tail)), eq_(types(lst), ys)).then(
        set_(ty(t)).to(PyObject(infer_literal)(PyObject.from_string(op), at, ys)))
    yield rule(eq_(lst, nil())).then(all_param(lst))
    yield rule(eq_(lst, cons(head, tail)), param_only(head), all_param(tail)).then(all_param(lst))
    yield rule(eq_(t, apply(op, at, lst)), eq_(lst, cons(head, tail)), all_param(lst)).then(param_only(t))
    yield rule(eq_(t, apply("input", at, lst))).then(on_input(t))
    yield rule(eq_(lst, cons(head, tail)), on_input(head)).then(any_on_input(lst))
    yield rule(eq_(lst, cons(head, tail)), any_on_input(tail)).then(any_on_input(lst))
    yield rule(eq_(t, apply(op, at, lst)), any_on_input(lst)).then(on_input(t))
    yield from _list_rules()


ANALYSIS = ruleset(*_analysis_rules(), name="frittata-analysis")


def cut_seed(kind: str, op: str):
    """The rule asking for `kind` ("last" or "split") rows of the operand lists of `op` nodes."""
    lst, at = var("l", Operands), var("at", PyObject)
    return rule(apply(op, at, lst), name=f"{kind}-seed-{op}").then(wants(String(kind), lst))


def analysis_with(seeds: tuple) -> object:
    """`ANALYSIS` plus extra always-saturated rules (the cut seeds of a rule set)."""
    if not seeds:
        return ANALYSIS
    return unstable_combine_rulesets(ANALYSIS, ruleset(*seeds))


def encode_attrs(term: Term) -> tuple:
    """A term's attributes as a Python literal (a parameter keeps only its name)."""
    if term.op == Op.PARAM:
        return (("name", term.attr("ref").name),)
    return term.attrs


class EGraphHandle:
    """A live e-graph holding one program; the only object that talks to egglog.

    egglog's e-graph may only be dropped on the thread that made it. Used as a context manager,
    the handle drops it on leaving, also when an error leaves the handle in a traceback's
    reference cycle (which any thread's cycle collector may free: "EGraph is unsendable, but is
    being dropped on another thread")."""

    def __init__(self, program: Program) -> None:
        self.egraph = EGraph()
        self.program = program
        self.params = dict(program.params)
        self._lets = 0
        self._insert(program)

    def __enter__(self) -> EGraphHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the e-graph now, on this thread; the handle is unusable afterwards. egglog's
        Python state objects sit in reference cycles of their own (closures over themselves),
        so each lets go of the Rust e-graph here rather than when a collector frees them."""
        egraph, self.egraph = self.egraph, None  # type: ignore[assignment]
        if egraph is not None:
            for state in (egraph._state, *egraph._state_stack):
                state.egraph = None  # type: ignore[assignment]

    def _let(self, expr):
        self._lets += 1
        return self.egraph.let(f"t{self._lets}", expr)

    def _insert(self, program: Program) -> None:
        env: dict[int, Tensor] = {}
        facts: list[ActionLike] = []
        for term in program.terms():
            operands = self._operands([env[id(a)] for a in term.args])
            env[id(term)] = self._let(apply(term.op.value, PyObject(encode_attrs(term)), operands))
            facts.append(set_(ty(env[id(term)])).to(PyObject((term.shape, term.dtype))))
        facts.extend(single_use(env[key]) for key in _single_use(program))
        self.egraph.register(*facts)  # one egglog call: one per fact took a third of inserting
        self.egraph.run(ANALYSIS.saturate())

    def _operands(self, children: list[Tensor]) -> Operands:
        """The operand list of inserted children, let-bound every `LET_EVERY` cells."""
        acc = nil()
        for start in range(len(children) - LET_EVERY, -LET_EVERY, -LET_EVERY):
            acc = operand_list(children[max(start, 0):start + LET_EVERY], acc)
            if start > 0:
                acc = self._let(acc)
        return acc

    def run(self, rules, iterations: int = 1, analysis=ANALYSIS) -> dict[str, int]:
        """Run `rules` for some iterations, then the analyses; per-rule match counts.

        `analysis` is saturated before the rules as well: rows it seeds (`last`, `split`) must exist
        before the first step, or a step could match nothing and look saturated. "__updated__"
        says whether the tensor tables changed (a new e-node, or fewer `ty` rows: two classes
        merged); egglog's own flag is also set by a match that only rebuilt an existing operand
        list through `append`, which would cost a needless extra step.
        """
        before = self._sizes()
        try:
            if analysis is not ANALYSIS:
                self.egraph.run(analysis.saturate())
            report = self.egraph.run(iterations, ruleset=rules)
            self.egraph.run(analysis.saturate())
        except FrittataTypeError as err:
            raise RewriteError(f"saturation: a rule built an ill-typed node: {err}") from err
        counts = {decl.name: n for decl, n in report.num_matches_per_rule.items()
                  if isinstance(decl, RuleDecl) and decl.name}
        counts["__updated__"] = int(self._sizes() != before)
        return counts

    def _sizes(self) -> dict[str, int]:
        return {str(fn): n for fn, n in self.egraph.all_function_sizes() if str(fn) in _SIZED}

    def size(self) -> int:
        """Rows of the tensor tables: e-nodes (`apply`) plus their `ty` and `param_only` rows.

        Operand-list cells and the list analyses grow with these and are left out, so a node
        limit stops the same e-graph as it did with fixed-arity nodes (on ResNet-18's fusion
        they add about 7x as many rows, most of them cons cells and `types`).
        """
        return sum(self._sizes().values())

    def push(self) -> None:
        self.egraph.push()

    def pop(self) -> None:
        self.egraph.pop()

    def data(self) -> EGraphData:
        """The e-graph as plain Python data (see `EGraphData`)."""
        raw = json.loads(self.egraph._egraph.serialize([]).to_json())
        return build_data(decode_nodes(raw), self.program, self.params)


def _single_use(program: Program) -> list[int]:
    """Ids of the terms that exactly one other term uses (outputs excluded)."""
    users: dict[int, set[int]] = {}
    for term in program.terms():
        for arg in term.args:
            users.setdefault(id(arg), set()).add(id(term))
    outputs = {id(t) for t in program.outputs.values()}
    return [key for key, found in users.items() if len(found) == 1 and key not in outputs]


def decode_nodes(raw: dict) -> tuple[list[tuple[str, str, tuple, list[str]]], dict[str, tuple]]:
    """Serialized egglog JSON -> (e-nodes as (class, op, attrs, operand classes), class types)."""
    nodes = raw["nodes"]
    prim = {v["eclass"]: v["op"] for v in nodes.values() if not v["children"]}
    cells = {v["eclass"]: v["children"] for v in nodes.values() if v["op"] in (_EGG_CONS, _EGG_NIL)}
    enodes, found = [], {}
    for entry in nodes.values():
        name, kids = entry["op"], entry["children"]
        if name == _EGG_APPLY:
            op = json.loads(nodes[kids[0]]["op"])
            attrs = parse_literal(nodes[kids[1]]["op"])
            enodes.append((entry["eclass"], op, attrs, _operand_classes(nodes, cells, nodes[kids[2]]["eclass"])))
        elif name == _EGG_TY:
            found[nodes[kids[0]]["eclass"]] = parse_literal(prim[entry["eclass"]])
    return enodes, found


def _operand_classes(nodes: dict, cells: dict[str, list], lst: str) -> list[str]:
    """The tensor classes of operand list class `lst`, walking its cons cells."""
    out: list[str] = []
    while True:
        if lst not in cells:
            raise RewriteError(f"e-graph decoding: expected a cons or nil node in operand list {lst}, got none")
        kids = cells[lst]
        if not kids:
            return out
        out.append(nodes[kids[0]]["eclass"])
        lst = nodes[kids[1]]["eclass"]
