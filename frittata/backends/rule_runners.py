"""The backends as runners for the rule checker (`frittata rules check`): compile a rule's
right side and run it, so what the interpreter cannot see (loop schedules, epilogues, VTA
blocks) is checked on the code the backends make.

"llvm" builds natively. "vta" runs accelerator ops on the VTA simulator and the rest natively;
the program's inputs become parameters first, since the VTA build places a call's bias (and
any constant operand) in DRAM at build time, as it does for a model's weights.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from frittata.terms.builders import param
from frittata.terms.ops import Op
from frittata.terms.program import Program
from frittata.terms.term import Term, postorder


def run_llvm(program: Program, inputs: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    from frittata.backends.llvm import build

    return build(program).run(**inputs)


def run_vta(program: Program, inputs: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    from frittata.backends.vta.build import build

    return build(frozen(program, inputs)).run()


def frozen(program: Program, inputs: Mapping[str, np.ndarray]) -> Program:
    """`program` with every input replaced by a parameter holding its value in `inputs`."""
    memo: dict[int, Term] = {}
    for node in postorder(program.outputs.values()):
        if node.op == Op.INPUT:
            memo[id(node)] = param(node.attr("name"), inputs[node.attr("name")])
        else:
            memo[id(node)] = Term.make(node.op, tuple(memo[id(a)] for a in node.args), node.attrs)
    return Program({name: memo[id(t)] for name, t in program.outputs.items()})


RUNNERS = {"llvm": run_llvm, "vta": run_vta}
