"""A saturated e-graph as plain Python data: what extractors read and `to_program` rebuilds.

E-classes and e-nodes are numbered densely from 0. An e-node is an operator, its attributes
(exactly a `Term`'s attrs, except that a parameter carries `(("name", n),)` and its array is in
`EGraphData.params`) and the e-classes of its operands. Every e-class has one tensor type, which
all of its e-nodes share. `roots` names the e-class of each program output.

An extraction is a *choice*: a mapping from e-class to one of its e-node ids. `to_program`
rebuilds the program of a choice (only classes reachable from the roots need a choice) and
raises `ExtractionError` if the choice is cyclic or incomplete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from frittata.errors import ExtractionError
from frittata.terms.attr_keys import exact_key
from frittata.terms.builders import param
from frittata.terms.dtypes import TensorType
from frittata.terms.ops import BY_NAME, Op
from frittata.terms.program import Program
from frittata.terms.term import Term

Choice = Mapping[int, int]


@dataclass(frozen=True, slots=True)
class ENode:
    """One e-node: `op(attrs)` applied to the e-classes `children`; it belongs to `eclass`."""

    op: Op
    attrs: tuple
    children: tuple[int, ...]
    eclass: int


@dataclass(frozen=True, slots=True)
class EClass:
    """One e-class: its tensor type and the ids of its e-nodes."""

    type: TensorType
    nodes: tuple[int, ...]


@dataclass(frozen=True)
class EGraphData:
    """An e-graph read back from egglog: `nodes[i]`, `classes[c]`, output roots, parameters.

    `original[c]` is the e-node of class c that the input program had (for classes that hold
    one), which makes "keep the input program" a valid extraction.
    """

    nodes: tuple[ENode, ...]
    classes: tuple[EClass, ...]
    roots: dict[str, int]
    params: dict[str, np.ndarray] = field(repr=False)
    original: dict[int, int]
    input_order: tuple[str, ...] = ()

    def to_term(self, choice: Choice, eclass: int) -> Term:
        """The term chosen for `eclass` (children before parents, without recursion)."""
        built: dict[int, Term] = {}
        on_path: set[int] = set()
        stack = [(eclass, False)]
        while stack:
            cls, expanded = stack.pop()
            if cls in built:
                continue
            enode = self.nodes[self._chosen(choice, cls)]
            if expanded:
                built[cls] = self._make(enode, [built[c] for c in enode.children])
                on_path.discard(cls)
                continue
            if cls in on_path:
                raise ExtractionError(f"to_term: expected an acyclic choice, got a cycle through e-class {cls}")
            on_path.add(cls)
            stack.append((cls, True))
            stack.extend((c, False) for c in enode.children if c not in built)
        return built[eclass]

    def to_program(self, choice: Choice) -> Program:
        """The program whose outputs are the chosen terms of the root e-classes."""
        outputs = {name: self.to_term(choice, cls) for name, cls in self.roots.items()}
        return _ordered(outputs, list(self.input_order))

    def _chosen(self, choice: Choice, cls: int) -> int:
        if cls not in choice:
            raise ExtractionError(f"to_term: expected a choice for e-class {cls}, got none")
        node_id = choice[cls]
        if self.nodes[node_id].eclass != cls:
            raise ExtractionError(f"to_term: e-node {node_id} is not in e-class {cls}")
        return node_id

    def _make(self, enode: ENode, args: list[Term]) -> Term:
        if enode.op == Op.PARAM:
            name = dict(enode.attrs)["name"]
            return param(name, self.params[name])
        return Term.make(enode.op, tuple(args), enode.attrs)

    def n_nodes(self) -> int:
        return len(self.nodes)


def _ordered(outputs: dict[str, Term], order: list[str]) -> Program:
    probe = Program(outputs)
    return Program(outputs, input_order=[n for n in order if n in probe.inputs])


def build_data(raw: tuple[list, dict], program: Program, params: dict[str, np.ndarray]) -> EGraphData:
    """Number the decoded e-classes and e-nodes densely and find the program's own nodes."""
    enodes, types = raw
    class_ids: dict[str, int] = {}
    for cls, *_ in enodes:
        class_ids.setdefault(cls, len(class_ids))
    nodes = tuple(ENode(BY_NAME[op], attrs, tuple(class_ids[c] for c in kids), class_ids[cls])
                  for cls, op, attrs, kids in enodes)
    members: list[list[int]] = [[] for _ in class_ids]
    for i, enode in enumerate(nodes):
        members[enode.eclass].append(i)
    classes = tuple(EClass(_type(types, name), tuple(members[i])) for name, i in class_ids.items())
    original = _find_original(nodes, program)
    roots = {name: nodes[original[id(t)]].eclass for name, t in program.outputs.items()}
    by_class: dict[int, int] = {}
    for n in original.values():  # postorder: the earliest term of a class keeps the choice acyclic
        by_class.setdefault(nodes[n].eclass, n)
    return EGraphData(nodes, classes, roots, params, by_class, tuple(program.inputs))


def _type(types: dict[str, tuple], cls: str) -> TensorType:
    if cls not in types:
        raise ExtractionError(f"e-graph decoding: e-class {cls} has no type (analysis not saturated)")
    shape, dtype = types[cls]
    return TensorType(tuple(shape), dtype)


def _find_original(nodes: tuple[ENode, ...], program: Program) -> dict[int, int]:
    """For each term of the program, the id of its e-node (matched by op, children and attrs by
    exact value, as terms are interned: a clip at -0.0 is not the one at 0.0)."""
    index = {(n.op, exact_key(n.attrs), n.children): i for i, n in enumerate(nodes)}
    found: dict[int, int] = {}
    for term in program.terms():
        attrs = (("name", term.attr("ref").name),) if term.op == Op.PARAM else term.attrs
        kids = tuple(nodes[found[id(a)]].eclass for a in term.args)
        key = (term.op, exact_key(attrs), kids)
        if key not in index:
            raise ExtractionError(f"e-graph decoding: the program's {term.op.value} node is missing")
        found[id(term)] = index[key]
    return found
