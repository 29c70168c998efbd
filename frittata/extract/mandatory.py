"""E-classes every extraction needs: the operands no choice can avoid (like dominators).

`needed(c)` is the set of classes that every acyclic term of class c contains:

    needed(c) = intersection over c's usable e-nodes n of  union over operands k of n: {k} | needed(k)

computed as the greatest fixed point (start from "every class", shrink until stable), with
Python ints as bit sets. It is sound on cyclic e-graphs: by induction on the height of an
acyclic term, each of its operand terms contains `needed` of its class. The ILP fixes the
classes needed by the roots to "chosen" (= 1), which removes most of the fractional splits
its LP relaxation could otherwise make between alternatives that share those classes.
"""

from __future__ import annotations

from frittata.extract.problem import Problem


def needed_by_roots(problem: Problem, classes: list[int]) -> set[int]:
    """The roots and every class that every extraction of some root contains."""
    everything = 0
    for cls in classes:
        everything |= 1 << cls
    needed = {cls: everything for cls in classes}
    changed = True
    while changed:
        changed = False
        for cls in classes:
            value = _meet(problem, cls, needed, everything)
            if value != needed[cls]:
                needed[cls], changed = value, True
    bits = 0
    for root in problem.data.roots.values():
        bits |= needed[root] | (1 << root)
    return {cls for cls in classes if bits >> cls & 1}


def _meet(problem: Problem, cls: int, needed: dict[int, int], everything: int) -> int:
    """Intersection over the class's e-nodes of the classes each one needs."""
    value = everything
    for node_id in problem.candidates[cls]:
        uses = 0
        for child in problem.data.nodes[node_id].children:
            uses |= (1 << child) | needed[child]
        value &= uses
    return value
