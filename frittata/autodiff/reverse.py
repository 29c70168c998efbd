"""Reverse-mode differentiation over the term DAG: `grad(program, wrt, of)`.

The cotangent of the loss flows from the loss to the leaves in reverse topological order; at
each node the op's `vjp` template (in its table entry) turns the node's cotangent into its
operands' cotangents, and an operand reached along several edges sums them. Only nodes that
depend on a `wrt` leaf are visited, and the cotangent terms are interned like any term, so the
gradient program shares the forward program's nodes (a product's VJP reads its forward operands
and often the node itself). A kernel op without a template is differentiated through its
expansion into plain ops.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from frittata.autodiff import kit
from frittata.errors import GradientError
from frittata.terms.builders import add, broadcast_to, const, param, var
from frittata.terms.dtypes import is_float
from frittata.terms.expansion import expand
from frittata.terms.ops import Op
from frittata.terms.program import Program
from frittata.terms.term import Term, postorder

GRAD_PREFIX = "grad_"
"""The gradient of the loss with respect to `w` is the output named `grad_w`."""


def grad(program: Program, wrt: Sequence[str] | None = None, of: str = "loss") -> Program:
    """The program `(inputs...) -> (of, grad_<w> for w in wrt)` of value and gradients.

    `wrt` names float inputs or parameters of `program` (None: every float parameter); `of`
    names a scalar float output. A parameter in `wrt` becomes an input of the same name, shape
    and dtype, so a training loop feeds its current value; the other parameters stay constants.
    Raises GradientError for an unknown name, a non-scalar loss or an op on the way from a
    `wrt` leaf to the loss that has no gradient.
    """
    if of not in program.outputs:
        raise GradientError(f"grad: expected `of` among the outputs {list(program.outputs)}, got {of!r}")
    names = list(wrt) if wrt is not None else [n for n, a in program.params.items() if is_float(a.dtype.name)]
    loss = lift_params(program.outputs[of], names)
    leaves = _wrt_leaves(loss, names, program)
    if loss.type.size != 1 or not is_float(loss.dtype):
        raise GradientError(f"grad: expected a float scalar output {of!r}, got {loss.type}")
    seed = broadcast_to(const(1.0, loss.dtype), loss.shape) if loss.shape else const(1.0, loss.dtype)
    grads = backprop(loss, seed, leaves.values())
    outputs = {of: loss}
    for name, leaf in leaves.items():
        outputs[GRAD_PREFIX + name] = grads.get(leaf, kit.zeros(leaf.shape, leaf.dtype))
    order = [n for n in program.inputs] + [n for n in names if n not in program.inputs]
    return Program(outputs, input_order=[n for n in order if n in _input_names(outputs.values())])


def lift_params(root: Term, names: Iterable[str]) -> Term:
    """`root` with each parameter leaf named in `names` replaced by an input leaf like it."""
    wanted = set(names)
    rebuilt: dict[Term, Term] = {}
    for node in postorder([root]):
        if node.op == Op.PARAM and node.attr("ref").name in wanted:
            rebuilt[node] = var(node.attr("ref").name, node.shape, node.dtype)
        else:
            args = tuple(rebuilt[a] for a in node.args)
            rebuilt[node] = node if args == node.args else Term.make(node.op, args, node.attrs)
    return rebuilt[root]


def bind_params(program: Program, values: Mapping[str, np.ndarray]) -> Program:
    """`program` with the data of each parameter named in `values` replaced (trained weights)."""
    rebuilt: dict[Term, Term] = {}
    for node in program.terms():
        if node.op == Op.PARAM and node.attr("ref").name in values:
            name = node.attr("ref").name
            rebuilt[node] = param(name, np.asarray(values[name], node.dtype).reshape(node.shape))
        else:
            args = tuple(rebuilt[a] for a in node.args)
            rebuilt[node] = node if args == node.args else Term.make(node.op, args, node.attrs)
    return program.with_outputs({n: rebuilt[t] for n, t in program.outputs.items()})


def backprop(root: Term, seed: Term, targets: Iterable[Term]) -> dict[Term, Term]:
    """The cotangents that `seed` (the cotangent of `root`) sends to each of `targets` reached."""
    wanted = set(targets)
    order = postorder([root])
    needs = set(wanted)
    for node in order:
        if any(a in needs for a in node.args):
            needs.add(node)
    cotangents: dict[Term, Term] = {root: seed}
    for node in reversed(order):
        g = cotangents.get(node)
        if g is None or node in wanted or node not in needs:
            continue
        for arg, part in zip(node.args, _operand_cotangents(node, g)):
            if part is not None and arg in needs:
                _check_shape(node, arg, part)
                cotangents[arg] = add(cotangents[arg], part) if arg in cotangents else part
    return {t: cotangents[t] for t in wanted if t in cotangents}


def _operand_cotangents(node: Term, g: Term) -> Sequence[Term | None]:
    op = node.op
    if op.vjp is not None:
        return op.vjp(kit, node, g)
    if op.expand is not None:
        found = backprop(expand(node), g, node.args)
        return [found.get(a) for a in node.args]
    raise GradientError(f"grad: {op.name} is not differentiable, and its output lies on the path from the "
                        f"differentiated inputs to the loss (at {node.type}); cut the path or use a "
                        f"differentiable op")


def _check_shape(node: Term, arg: Term, part: Term) -> None:
    if part.shape != arg.shape or part.dtype != arg.dtype:
        raise AssertionError(f"vjp of {node.op.name}: gave {part.type} for an operand of type {arg.type}")


def _wrt_leaves(loss: Term, names: Sequence[str], program: Program) -> dict[str, Term]:
    """The input leaf of each `wrt` name, or a fresh input for one the loss does not use."""
    found = {n.attr("name"): n for n in postorder([loss]) if n.op == Op.INPUT}
    leaves = {}
    for name in names:
        if name in found:
            leaves[name] = found[name]
        elif name in program.inputs:
            ty = program.inputs[name]
            leaves[name] = var(name, ty.shape, ty.dtype)
        elif name in program.params:
            data = program.params[name]
            leaves[name] = var(name, data.shape, data.dtype.name)
        else:
            raise GradientError(f"grad: expected `wrt` names among the inputs {list(program.inputs)} and "
                                f"parameters {list(program.params)}, got {name!r}")
        if not is_float(leaves[name].dtype):
            raise GradientError(f"grad: expected float `wrt` tensors, got {name!r} of type {leaves[name].type}")
    return leaves


def _input_names(terms: Iterable[Term]) -> set[str]:
    return {t.attr("name") for t in postorder(terms) if t.op == Op.INPUT}
