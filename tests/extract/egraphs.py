"""Small hand-built e-graphs for extraction tests: a hypothesis strategy and brute force.

E-nodes carry their price in an attribute, `(("cost", c),)`, read by `attr_cost` (a user cost
model through the protocol), so the optimum can be checked by enumerating every choice.
Operand classes are drawn freely, so cycles, self-loops and classes without any finite term
all occur.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import strategies as st

from frittata.errors import ExtractionError
from frittata.extract.cost import NodeInfo
from frittata.rewrites.data import EClass, EGraphData, ENode
from frittata.terms.dtypes import TensorType
from frittata.terms.ops import Op

SCALAR = TensorType((1,), "float32")


def attr_cost(info: NodeInfo) -> float:
    """The price written on the e-node."""
    return info.attr("cost")


@st.composite
def egraphs(draw, max_classes: int = 5, max_nodes: int = 3) -> EGraphData:
    """An e-graph of 1..max_classes classes; class 0 holds a leaf, the last class is the root."""
    n_classes = draw(st.integers(1, max_classes))
    enodes: list[ENode] = []
    for cls in range(n_classes):
        for k in range(draw(st.integers(1, max_nodes))):
            arity = 0 if cls == 0 and k == 0 else draw(st.integers(0, 2))
            kids = tuple(draw(st.lists(st.integers(0, n_classes - 1), min_size=arity, max_size=arity)))
            cost = draw(st.integers(0, 20)) / 4
            enodes.append(ENode(Op.ADD if kids else Op.INPUT, (("cost", cost),), kids, cls))
    members = [tuple(i for i, n in enumerate(enodes) if n.eclass == c) for c in range(n_classes)]
    classes = tuple(EClass(SCALAR, m) for m in members)
    return EGraphData(tuple(enodes), classes, {"out": n_classes - 1}, {}, {})


def seeded_egraph(seed: int, n_classes: int = 7, max_nodes: int = 3) -> EGraphData:
    """An e-graph like `egraphs()` draws, from a numpy seed (for runs outside hypothesis)."""
    rng = np.random.default_rng(seed)
    enodes: list[ENode] = []
    for cls in range(n_classes):
        for k in range(int(rng.integers(1, max_nodes + 1))):
            arity = 0 if cls == 0 and k == 0 else int(rng.integers(0, 3))
            kids = tuple(int(c) for c in rng.integers(0, n_classes, arity))
            cost = int(rng.integers(0, 21)) / 4
            enodes.append(ENode(Op.ADD if kids else Op.INPUT, (("cost", cost),), kids, cls))
    members = [tuple(i for i, n in enumerate(enodes) if n.eclass == c) for c in range(n_classes)]
    classes = tuple(EClass(SCALAR, m) for m in members)
    return EGraphData(tuple(enodes), classes, {"out": n_classes - 1}, {}, {})


def reachable_nodes(data: EGraphData, choice: dict[int, int]) -> list[int] | None:
    """The e-nodes a choice uses from the roots, or None if it is cyclic."""
    used: dict[int, int] = {}
    done: set[int] = set()

    def visit(cls: int, path: frozenset) -> bool:
        if cls in done:
            return True
        if cls in path:
            return False
        node = data.nodes[choice[cls]]
        if not all(visit(c, path | {cls}) for c in node.children):
            return False
        done.add(cls)
        used[cls] = choice[cls]
        return True

    ok = all(visit(root, frozenset()) for root in data.roots.values())
    return list(used.values()) if ok else None


def brute_force(data: EGraphData) -> float:
    """The least DAG cost over every choice (inf if every choice is cyclic)."""
    best = math.inf
    for picks in itertools.product(*(c.nodes for c in data.classes)):
        used = reachable_nodes(data, dict(enumerate(picks)))
        if used is not None:
            best = min(best, sum(dict(data.nodes[n].attrs)["cost"] for n in used))
    return best


def dag_cost_of(data: EGraphData, choice: dict[int, int]) -> float:
    """DAG cost of a choice by the attribute prices; ExtractionError if cyclic."""
    used = reachable_nodes(data, choice)
    if used is None:
        raise ExtractionError("cyclic choice")
    return sum(dict(data.nodes[n].attrs)["cost"] for n in used)
