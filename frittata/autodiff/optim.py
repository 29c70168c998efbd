"""Optimizers as terms, and one training step as one program (`ft.optim`).

An optimizer's `update` builds the new value of a parameter and of its state slots from the
parameter, its gradient, its state and the step number (a float32 scalar input, 1 on the first
step), as terms; `step_program` is that update alone, and `train_step` joins it to the
gradient program of a model's loss:

    (batch..., params..., state..., step) -> (loss, params'..., state'...)

Parameters keep their names in both directions; a state slot of parameter `w` is named
`<slot>.<w>` (`velocity.w`; `m.w` and `v.w`). `TrainStep` runs that program (compiled, or by
the interpreter) and carries the parameters and state from one step to the next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from frittata.autodiff.reverse import GRAD_PREFIX, grad
from frittata.errors import FrittataTypeError
from frittata.terms.builders import add, div, mul, pow, sqrt, sub, var
from frittata.terms.dtypes import TensorType
from frittata.terms.interp import evaluate
from frittata.terms.program import Program
from frittata.terms.term import Term

STEP = "step"
"""The name of the step-number input (float32 scalar, 1 on the first step)."""


class Optimizer(Protocol):
    """Builds a parameter's update as terms; `slots` names its per-parameter state."""

    @property
    def slots(self) -> tuple[str, ...]: ...

    def update(self, w: Term, g: Term, state: Mapping[str, Term], step: Term) -> tuple[Term, dict[str, Term]]: ...


@dataclass(frozen=True)
class SGD:
    """w' = w - lr v' with v' = momentum v + g + weight_decay w (PyTorch's SGD; v starts at 0)."""

    lr: float = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0

    @property
    def slots(self) -> tuple[str, ...]:
        return ("velocity",) if self.momentum else ()

    def update(self, w: Term, g: Term, state: Mapping[str, Term], step: Term) -> tuple[Term, dict[str, Term]]:
        if self.weight_decay:
            g = add(g, mul(w, self.weight_decay))
        velocity = add(mul(state["velocity"], self.momentum), g) if self.momentum else g
        return sub(w, mul(velocity, self.lr)), {"velocity": velocity}


@dataclass(frozen=True)
class Adam:
    """Adam (Kingma and Ba; PyTorch's form): m' = b1 m + (1 - b1) g, v' = b2 v + (1 - b2) g^2,
    w' = w - lr (m' / (1 - b1^t)) / (sqrt(v' / (1 - b2^t)) + eps) at step t."""

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    @property
    def slots(self) -> tuple[str, ...]:
        return ("m", "v")

    def update(self, w: Term, g: Term, state: Mapping[str, Term], step: Term) -> tuple[Term, dict[str, Term]]:
        m = add(mul(state["m"], self.beta1), mul(g, 1 - self.beta1))
        v = add(mul(state["v"], self.beta2), mul(mul(g, g), 1 - self.beta2))
        m_hat = div(m, sub(1.0, pow(self.beta1, step)))
        v_hat = div(v, sub(1.0, pow(self.beta2, step)))
        return sub(w, mul(div(m_hat, add(sqrt(v_hat), self.eps)), self.lr)), {"m": m, "v": v}


def slot_name(slot: str, param: str) -> str:
    return f"{slot}.{param}"


def step_program(optimizer: Optimizer, params: Mapping[str, TensorType]) -> Program:
    """(params..., grad_<w>..., state..., step) -> (params'..., state'...) for `params` by name."""
    step = var(STEP, ())
    outputs: dict[str, Term] = {}
    for name, ty in params.items():
        w = var(name, ty.shape, ty.dtype)
        g = var(GRAD_PREFIX + name, ty.shape, ty.dtype)
        outputs.update(_updated(optimizer, name, w, g, step))
    return Program(outputs)


def _updated(optimizer: Optimizer, name: str, w: Term, g: Term, step: Term) -> dict[str, Term]:
    state = {s: var(slot_name(s, name), w.shape, w.dtype) for s in optimizer.slots}
    new, new_state = optimizer.update(w, g, state, step)
    return {name: new, **{slot_name(s, name): new_state[s] for s in optimizer.slots}}


def train_step_program(model: Program, optimizer: Optimizer, of: str = "loss",
                       wrt: Sequence[str] | None = None) -> Program:
    """One training step of `model`'s output `of` (see the module docstring)."""
    gradients = grad(model, wrt, of)
    step = var(STEP, ())
    outputs = {of: gradients.outputs[of]}
    for name, g in gradients.outputs.items():
        if name.startswith(GRAD_PREFIX):
            param = name.removeprefix(GRAD_PREFIX)
            outputs.update(_updated(optimizer, param, var(param, g.shape, g.dtype), g, step))
    return Program(outputs, input_order=list(gradients.inputs))


class TrainStep:
    """Runs a training-step program and carries parameters and optimizer state between steps.

    `step(**batch)` feeds the batch, the current parameters and state and the step number,
    keeps the new parameters and state, and returns the loss. `compile(...)` runs the step as
    a compiled module from then on (the same program, so the same arithmetic up to rounding),
    which updates the parameter and state arrays in place where its plan proves it safe.
    """

    def __init__(self, model: Program, optimizer: Optimizer, of: str = "loss",
                 wrt: Sequence[str] | None = None) -> None:
        self.of = of
        self.program = train_step_program(model, optimizer, of, wrt)
        names = [n.removeprefix(GRAD_PREFIX) for n in grad(model, wrt, of).outputs if n.startswith(GRAD_PREFIX)]
        self.params = {n: np.array(model.params[n]) for n in names}
        self.state = {slot_name(s, n): np.zeros_like(a) for n, a in self.params.items() for s in optimizer.slots
                      if slot_name(s, n) in self.program.inputs}
        self.steps = 0
        self._module: Any = None

    def compile(self, target: str = "llvm", **options: Any) -> TrainStep:
        from frittata.driver import compile as compile_program

        self._module = compile_program(self.program, target, **options)
        return self

    def step(self, **batch: np.ndarray) -> float:
        self.steps += 1
        feed = {**batch, **self.params, **self.state, STEP: np.array(self.steps, np.float32)}
        missing = [n for n in self.program.inputs if n not in feed]
        if missing:
            raise FrittataTypeError(f"TrainStep: expected the batch inputs {missing}, got {sorted(batch)}")
        feed = {n: feed[n] for n in self.program.inputs}
        if self._module is None:
            out = evaluate(self.program, feed)
        else:  # the llvm module updates in place; others (vta) run plainly
            out = getattr(self._module, "run_in_place", self._module.run)(**feed)
        for table in (self.params, self.state):
            table.update((n, out[n]) for n in table if n in out)
        return float(out[self.of])
