"""`fold_params`: evaluate every sub-term computed from parameters only into a new parameter.

Rules such as fold-batch-norm-conv2d build arithmetic over `param` leaves (new weights); after
extraction this pass runs that arithmetic once, with the reference interpreter, so compiled
code never recomputes weights. Leaves themselves are kept; new parameters are named
`folded_<op>_<k>` (never clashing with existing names).
"""

from __future__ import annotations

import numpy as np

from frittata.terms.builders import param
from frittata.terms.interp import eval_node
from frittata.terms.ops import Op
from frittata.terms.program import Program
from frittata.terms.term import Term, postorder


def fold_params(program: Program) -> Program:
    """The same program with each maximal parameter-only sub-term replaced by its value."""
    order = postorder(program.outputs.values())
    values: dict[int, np.ndarray] = {}
    for term in order:
        if term.op in (Op.PARAM, Op.CONST) or (term.args and all(id(a) in values for a in term.args)):
            if term.op != Op.INPUT:
                args = [values[id(a)] for a in term.args]
                with np.errstate(all="ignore"):
                    values[id(term)] = np.asarray(eval_node(term, args, {})).astype(term.dtype)
    names = _Namer(program)
    rebuilt: dict[int, Term] = {}
    for term in order:
        if id(term) in values and term.args:
            rebuilt[id(term)] = param(names.next(term.op), values[id(term)])
        elif term.args:
            rebuilt[id(term)] = Term.make(term.op, tuple(rebuilt[id(a)] for a in term.args), term.attrs)
        else:
            rebuilt[id(term)] = term
    return program.with_outputs({n: rebuilt[id(t)] for n, t in program.outputs.items()})


class _Namer:
    """Fresh parameter names that do not clash with the program's own."""

    def __init__(self, program: Program) -> None:
        self.taken = set(program.params)
        self.count = 0

    def next(self, op: Op) -> str:
        while True:
            self.count += 1
            name = f"folded_{op.value}_{self.count}"
            if name not in self.taken:
                self.taken.add(name)
                return name
