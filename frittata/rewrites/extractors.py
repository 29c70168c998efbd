"""Two simple extractors for tests and as a fallback; the cost-model extractors live in
`frittata.extract`.

`original_choice` keeps the input program (every class the program reaches holds one of its
nodes). `smallest_choice` picks, per class, the e-node of the smallest tree (fewest nodes,
ties to the lower id), by a bottom-up fixed point: strictly positive costs make the choice
acyclic.
"""

from __future__ import annotations

import math

from frittata.rewrites.data import EGraphData


def original_choice(data: EGraphData) -> dict[int, int]:
    """The e-node the input program had, for every class that holds one."""
    return dict(data.original)


def smallest_choice(data: EGraphData) -> dict[int, int]:
    """Per e-class, the e-node whose chosen subtree has the fewest nodes."""
    cost = [math.inf] * len(data.classes)
    choice: dict[int, int] = {}
    changed = True
    while changed:
        changed = False
        for node_id, enode in enumerate(data.nodes):
            total = 1 + sum(cost[c] for c in enode.children)
            if total < cost[enode.eclass]:
                cost[enode.eclass], choice[enode.eclass] = total, node_id
                changed = True
    return choice
