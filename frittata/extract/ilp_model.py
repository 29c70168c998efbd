"""The integer program of DAG-optimal extraction, as sparse rows (solver-independent).

Columns: one binary `x[n]` per usable e-node of the classes reachable from the roots, then one
continuous order variable `t[c]` per class that lies on a cycle of the class graph (a
non-trivial strongly connected component). Rows, with a column-wise coefficient list each:

  every class c:          sum x[c's nodes]         <= 1
  c a root, or needed by every term of a root (`mandatory`):
                          sum x[c's nodes]          = 1
  class c, operand class d:
                          sum x[c's nodes using d] - sum x[d's nodes not using c]  <= 0
                          (a chosen node's operands are chosen, and not by a node that
                          closes a two-class cycle back to c)
  node n in c, operand d in c's component S, |S| > 2:
                          t[c] - t[d] - |S| x[n]   >= 1 - |S|   (chosen edges go down in t)

The objective is sum cost[n] x[n]: each chosen e-node paid once, the DAG cost. The operand rows
sum over all of c's nodes using d (valid since c picks at most one): with one row per node, the
LP relaxation could take half of each of two alternatives that share d and pay only half of d,
halving again at every level below. The order rows
make every cycle infeasible (t would have to decrease around it), and only edges inside a
component can close a cycle, so the rest of the graph needs no order variables. Leaving the
back-edges out of the operand rows forbids every two-class cycle (a layout change and its
inverse) exactly, with a far tighter LP relaxation than big-M rows: with the back-edge in, a
half-chosen pack/unpack cycle pays half of a convolution. So order variables are needed only
for components of three or more classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from frittata.extract.mandatory import needed_by_roots
from frittata.extract.problem import Problem
from frittata.extract.scc import components


@dataclass
class IlpModel:
    """Rows (lower, upper, [(column, coefficient)]) over the columns: `nodes`, then `order_classes`.

    `component[c]` labels the cycle component of an ordered class, `component_size[c]` its size.
    """

    nodes: list[int]
    order_classes: list[int]
    component_size: dict[int, int]
    component: dict[int, int]
    rows: list[tuple[float, float, list[tuple[int, float]]]] = field(default_factory=list)

    @property
    def n_columns(self) -> int:
        return len(self.nodes) + len(self.order_classes)


def reachable_classes(problem: Problem) -> list[int]:
    """Classes reachable from the roots through usable e-nodes, in discovery order."""
    seen = dict.fromkeys(problem.data.roots.values())
    stack = list(seen)
    while stack:
        for node_id in problem.candidates[stack.pop()]:
            for child in problem.data.nodes[node_id].children:
                if child not in seen:
                    seen[child] = None
                    stack.append(child)
    return sorted(seen)


def build_ilp(problem: Problem) -> IlpModel:
    """The rows and columns of the extraction ILP of `problem` (see the module docstring)."""
    classes = reachable_classes(problem)
    comp = components(classes, lambda c: _child_classes(problem, c))
    sizes: dict[int, int] = {}
    for label in comp.values():
        sizes[label] = sizes.get(label, 0) + 1
    ordered = [c for c in classes if sizes[comp[c]] > 2]
    nodes = [n for c in classes for n in problem.candidates[c]]
    model = IlpModel(nodes, ordered, {c: sizes[comp[c]] for c in ordered}, {c: comp[c] for c in ordered})
    _class_rows(problem, model, classes)
    _edge_rows(problem, model, comp)
    return model


def _child_classes(problem: Problem, cls: int) -> list[int]:
    return [c for n in problem.candidates[cls] for c in problem.data.nodes[n].children]


def _class_rows(problem: Problem, model: IlpModel, classes: list[int]) -> None:
    """At most one e-node per class; exactly one in the roots and the classes they need."""
    column = {n: i for i, n in enumerate(model.nodes)}
    forced = needed_by_roots(problem, classes)
    for cls in classes:
        members = [(column[n], 1.0) for n in problem.candidates[cls]]
        model.rows.append((1.0 if cls in forced else 0.0, 1.0, members))


def _edge_rows(problem: Problem, model: IlpModel, comp: dict[int, int]) -> None:
    """Operand rows per (class, operand class), and order rows inside cycle components."""
    column = {n: i for i, n in enumerate(model.nodes)}
    order = {c: len(model.nodes) + i for i, c in enumerate(model.order_classes)}
    nodes = problem.data.nodes
    for cls in sorted({nodes[n].eclass for n in model.nodes}):
        users: dict[int, list[int]] = {}
        for node_id in problem.candidates[cls]:
            for child in set(nodes[node_id].children):
                users.setdefault(child, []).append(column[node_id])
        for child, cols in sorted(users.items()):
            row = [(x, 1.0) for x in cols] + [(column[m], -1.0) for m in problem.candidates[child]
                                              if cls not in nodes[m].children]
            model.rows.append((-float("inf"), 0.0, row))
            if cls in order and comp[child] == comp[cls]:
                _order_rows(model, order, cls, child, cols)


def _order_rows(model: IlpModel, order: dict[int, int], cls: int, child: int, cols: list[int]) -> None:
    big = float(model.component_size[cls])
    for x in cols:
        model.rows.append((1.0 - big, float("inf"), [(order[cls], 1.0), (order[child], -1.0), (x, -big)]))


@dataclass(frozen=True)
class Arrays:
    """The ILP in solver-ready arrays: objective, column bounds, integrality, CSR rows."""

    cost: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    starts: np.ndarray
    index: np.ndarray
    value: np.ndarray


def arrays(problem: Problem, model: IlpModel, scale: float) -> Arrays:
    """The model's arrays, with e-node costs multiplied by `scale`."""
    n_x = len(model.nodes)
    starts, index, value = [0], list[int](), list[float]()
    for _, _, entries in model.rows:
        index.extend(col for col, _ in entries)
        value.extend(coef for _, coef in entries)
        starts.append(len(index))
    order_upper = [model.component_size[c] - 1.0 for c in model.order_classes]
    return Arrays(np.array([problem.costs[n] * scale for n in model.nodes] + [0.0] * len(order_upper)),
                  np.array([1.0] * n_x + order_upper), np.array([1] * n_x + [0] * len(order_upper)),
                  np.array([r[0] for r in model.rows]), np.array([r[1] for r in model.rows]),
                  np.array(starts, dtype=np.int64), np.array(index, dtype=np.int32), np.array(value))
