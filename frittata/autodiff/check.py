"""Gradient checking: `grad`'s gradients against central finite differences, in float64.

`check_gradients` compares every `wrt` gradient of a program at given inputs with
(f(x + eps e_i) - f(x - eps e_i)) / 2 eps at up to `coordinates` positions per tensor (all of
them for small tensors), both computed by the reference interpreter. A float32 program is
checked through its float64 copy (`to_float64`), where the finite differences are accurate to
about 1e-9. `grad_check_main` runs the op cases of `frittata.autodiff.cases` (`frittata grad check`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from frittata.autodiff.cases import CASES, Case
from frittata.autodiff.reverse import GRAD_PREFIX, grad
from frittata.terms.builders import mul, param, reduce_sum
from frittata.terms.interp import evaluate
from frittata.terms.ops import Op
from frittata.terms.program import Program
from frittata.terms.term import Term, postorder

EPS = 1e-6
RTOL, ATOL = 1e-5, 1e-7


@dataclass(frozen=True)
class Mismatch:
    """The worst gradient element of one `wrt` tensor, where it failed the tolerance."""

    name: str
    index: tuple[int, ...]
    analytic: float
    numeric: float

    def __str__(self) -> str:
        return (f"d/d{self.name}{list(self.index)}: expected {self.numeric:.9g} (finite differences), "
                f"got {self.analytic:.9g} (grad)")


def check_gradients(program: Program, inputs: Mapping[str, np.ndarray], wrt: Sequence[str], of: str = "loss",
                    coordinates: int = 24, seed: int = 0) -> list[Mismatch]:
    """The gradients of `of` that differ from finite differences beyond RTOL/ATOL (empty: all agree).

    `inputs` gives every input of the program and of its gradient program (the `wrt`
    parameters included); float inputs are checked at their float64 values."""
    wide = to_float64(program)
    given = {n: (np.asarray(v, np.float64) if np.asarray(v).dtype.kind == "f" else np.asarray(v))
             for n, v in inputs.items()}
    gradients = grad(wide, wrt, of)
    analytic = evaluate(gradients, {n: given[n] for n in gradients.inputs})
    forward = gradients.with_outputs({of: gradients.outputs[of]})
    rng = np.random.default_rng(seed)
    found = []
    for name in wrt:
        got = analytic[GRAD_PREFIX + name]
        picks = _coordinates(got.shape, coordinates, rng)
        numeric = [_central(forward, given, name, index, of) for index in picks]
        worst = max(((abs(got[i] - v) - ATOL - RTOL * abs(v), i, v) for i, v in zip(picks, numeric)),
                    default=None, key=lambda t: t[0])
        if worst is not None and worst[0] > 0:
            found.append(Mismatch(name, worst[1], float(got[worst[1]]), float(worst[2])))
    return found


def assert_gradients(program: Program, inputs: Mapping[str, np.ndarray], wrt: Sequence[str], of: str = "loss",
                     coordinates: int = 24) -> None:
    """The pytest helper: raise AssertionError naming each gradient that fails `check_gradients`."""
    problems = check_gradients(program, inputs, wrt, of, coordinates)
    assert not problems, "gradients differ from finite differences:\n" + "\n".join(map(str, problems))


def _coordinates(shape: tuple[int, ...], count: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    every = list(np.ndindex(shape))
    if len(every) <= count:
        return every
    return [every[i] for i in sorted(rng.choice(len(every), count, replace=False))]


def _central(forward: Program, inputs: dict[str, np.ndarray], name: str, index: tuple[int, ...], of: str) -> float:
    moved = []
    for sign in (1.0, -1.0):
        value = inputs[name].copy()
        value[index] += sign * EPS
        feed = {n: (value if n == name else inputs[n]) for n in forward.inputs}
        moved.append(float(evaluate(forward, feed)[of].sum()))
    return (moved[0] - moved[1]) / (2 * EPS)


def to_float64(program: Program) -> Program:
    """The program with every float32 input, parameter, constant and cast in float64."""
    rebuilt: dict[Term, Term] = {}
    for node in postorder(program.outputs.values()):
        rebuilt[node] = _wide(node, tuple(rebuilt[a] for a in node.args))
    return Program({n: rebuilt[t] for n, t in program.outputs.items()}, input_order=list(program.inputs))


def _wide(node: Term, args: tuple[Term, ...]) -> Term:
    attrs: Any = node.attrs
    if node.op == Op.PARAM and node.dtype == "float32":
        ref = node.attr("ref")
        return param(ref.name, ref.data.astype(np.float64))
    if node.op in (Op.INPUT, Op.CONST, Op.CAST) and dict(attrs).get("dtype") == "float32":
        attrs = tuple((k, "float64" if k == "dtype" else v) for k, v in attrs)
    if node.op == Op.CONST:
        return Term.make(Op.CONST, (), attrs)
    return node if args == node.args and attrs is node.attrs else Term.make(node.op, args, attrs)


def case_program(case: Case, draw: Any, rng: np.random.Generator) -> tuple[Program, dict[str, np.ndarray]]:
    """A case's op under a random linear loss sum(op(...) * r), and normal inputs for it."""
    out = case(draw)
    weights = param("r", rng.standard_normal(out.shape))
    program = Program({"loss": reduce_sum(mul(out, weights))})
    inputs = {n: rng.standard_normal(t.shape) for n, t in program.inputs.items()}
    return program, inputs


class RandomDraw:
    """A case's choices from a numpy generator."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def dim(self, low: int = 1, high: int = 4) -> int:
        return int(self.rng.integers(low, high + 1))

    def choice(self, options: Sequence[Any]) -> Any:
        options = list(options)
        return options[int(self.rng.integers(len(options)))]


def grad_check_main(ops: Sequence[str] = (), examples: int = 8, seed: int = 0, out: TextIO | None = None) -> int:
    """Check each op's VJP on `examples` random cases; one line per op; 1 if any failed."""
    out = out or sys.stdout
    unknown = [n for n in ops if n not in CASES]
    if unknown:
        from frittata.errors import GradientError

        raise GradientError(f"grad check: expected ops with a VJP among {sorted(CASES)}, got {unknown}")
    failed = 0
    for name in ops or sorted(CASES):
        rng = np.random.default_rng(seed)
        problems = []
        for _ in range(examples):
            program, inputs = case_program(CASES[name], RandomDraw(rng), rng)
            problems += check_gradients(program, inputs, list(program.inputs))
        failed += bool(problems)
        verdict = "FAIL" if problems else "PASS"
        print(f"{verdict} {name}: {examples} cases" + (f"; {problems[0]}" if problems else ""), file=out)
    print(f"{len(ops or CASES) - failed} of {len(ops or CASES)} ops pass", file=out)
    return 1 if failed else 0
