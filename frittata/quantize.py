"""`quantize(program, calibration_inputs)`: float dense layers to int8 with power-of-two scales.

Every `add(dense(x, W), b)` (optionally under a `relu`) with parameter W and b becomes

    y = cast(clip(right_shift([relu](dense(q(x), Wq) + bq), k), -127, 127), int8) * 2^e_y

where q(x) = cast(clip(round(x * 2^-e_x), -127, 127), int8) quantizes the activation with a
symmetric per-tensor power-of-two scale 2^e_x, Wq = round(W * 2^-e_w) in int8 (per tensor),
bq = round(b * 2^-(e_x+e_w)) in int32, and the requantize shift k = e_y - e_x - e_w makes the
output fit int8: the int8 part is exactly what the VTA tensorization rules map to the
accelerator.  Exponents come from the largest magnitudes seen on the calibration inputs.
Other ops stay in float32.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from frittata.errors import FrittataError
from frittata.terms import builders as tb
from frittata.terms.interp import evaluate
from frittata.terms.ops import Op
from frittata.terms.program import Program
from frittata.terms.term import Term, postorder


def _exponent(peak: float) -> int:
    """The smallest e with peak <= 127 * 2^e (symmetric int8)."""
    return math.ceil(math.log2(max(peak, 1e-30) / 127))


def _is_layer(t: Term) -> bool:
    return (t.op == Op.ADD and t.args[0].op == Op.DENSE and t.args[1].op == Op.PARAM
            and t.args[0].args[1].op == Op.PARAM and t.dtype == "float32")


def _peaks(program: Program, calibration: Sequence[Mapping[str, np.ndarray]]) -> dict[int, float]:
    """Largest magnitude of every term over the calibration inputs."""
    terms = postorder(program.outputs.values())
    probe = Program({f"t{i}": t for i, t in enumerate(terms)})
    peaks: dict[int, float] = {}
    for inputs in calibration:
        for i, value in enumerate(evaluate(probe, inputs).values()):
            peaks[id(terms[i])] = max(peaks.get(id(terms[i]), 0.0), float(np.abs(value).max(initial=0)))
    return peaks


def _layer(layer: Term, x: Term, relu: bool, peaks: dict[int, float], peak_out: float) -> Term:
    dense, bias = layer.args
    w = dense.args[1].attr("ref").data
    e_x, e_w, e_y = _exponent(peaks[id(dense.args[0])]), _exponent(float(np.abs(w).max())), _exponent(peak_out)
    e_y = max(e_y, e_x + e_w)
    xq = tb.cast(tb.clip(tb.round(tb.mul(x, float(2.0 ** -e_x))), -127.0, 127.0), "int8")
    wq = tb.param(f"{dense.args[1].attr('ref').name}:q", np.clip(np.rint(w * 2.0 ** -e_w), -127, 127).astype(np.int8))
    bq = np.rint(bias.attr("ref").data * 2.0 ** -(e_x + e_w)).astype(np.int32)
    acc = tb.add(tb.dense(xq, wq), tb.param(f"{bias.attr('ref').name}:q", bq))
    acc = tb.relu(acc) if relu else acc
    out = tb.cast(tb.clip(tb.right_shift(acc, e_y - e_x - e_w), -127, 127), "int8")
    return tb.mul(tb.cast(out, "float32"), float(2.0 ** e_y))


def quantize(program: Program, calibration_inputs: Sequence[Mapping[str, np.ndarray]]) -> Program:
    """An int8 version of `program`'s dense layers (see the module docstring)."""
    if not calibration_inputs:
        raise FrittataError("quantize: expected at least one calibration input dict, got none")
    peaks = _peaks(program, calibration_inputs)
    memo: dict[int, Term] = {}
    for node in postorder(program.outputs.values()):
        args = tuple(memo[id(a)] for a in node.args)
        if node.op == Op.RELU and _is_layer(node.args[0]):
            layer = node.args[0]
            memo[id(node)] = _layer(layer, memo[id(layer.args[0].args[0])], True, peaks, peaks[id(node)])
        elif _is_layer(node):
            memo[id(node)] = _layer(node, memo[id(node.args[0].args[0])], False, peaks, peaks[id(node)])
        else:
            memo[id(node)] = Term.make(node.op, args, node.attrs)
    return Program({n: memo[id(t)] for n, t in program.outputs.items()})
