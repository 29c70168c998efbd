"""`quantize(program, calibration_inputs)`: float conv / dense layers and residual adds to int8
with symmetric per-tensor power-of-two scales, so that every requantization is a shift.

A quantized tensor is an int8 term q standing for q * 2^e.  A float tensor entering a layer
is quantized as q(x) = cast(clip(round(x * 2^-e), -127, 127), int8).  The layers:

  conv layer   [act](batch_norm(conv2d(x, W)))     batch norm folded into W and a bias first,
               or [act](conv2d(x, W) [+ bias]), of one group or depthwise (one input
               channel per group; VTA runs the former, the host CPU the latter in integers)
  dense layer  [act](add(dense(x, W), b))
      ->  cast(clip(right_shift([relu](contraction(q(x), Wq) + bq), k), -127, hi), int8)
      with Wq = round(W * 2^-e_w) (int8), bq = round(b * 2^-(e_x+e_w)) (int32) and the shift
      k = e_y - e_x - e_w >= 0: exactly what the VTA tensorization rules map onto the GEMM
      and the ALU, so consecutive layers hand int8 data to each other on the accelerator.
      act is a relu, or a capped relu clip(0, c) (relu6), whose cap becomes hi =
      min(127, round(c * 2^-e_y)) (else hi = 127), so the clip joins the layer's epilogue.
      The rounding is half to even, the code a value at c quantizes to: the output saturates
      at c rounded to a multiple of 2^e_y, exactly c where c * 2^-e_y is an integer (relu6:
      every e_y <= 1); a cap of 6.5 at e_y = 0 saturates at 6;
  residual     [relu](add(a, b)) of two quantized tensors
      ->  both widened to int32 at the finer exponent (a left shift is a multiplication by
      a power of two), added, [relu], shifted to e_y, clipped and cast to int8 (host ops).

A max pool or a reshape of a quantized tensor is applied to its int8 codes as they are (max
commutes with the dequantization q * 2^e, a reshape moves values), so a max pool between two
layers costs no dequantization and requantization.  Everything else (average pooling,
softmax, ...) runs in float32 on the dequantized value float32(q) * 2^e.  Exponents come from
the largest magnitudes seen on the calibration inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from frittata.errors import FrittataError
from frittata.quantize_lowbit import INTEGER_PASS, check_bits, unsigned_exponent, weight_codes
from frittata.terms import builders as tb
from frittata.terms.interp import evaluate
from frittata.terms.ops import Op
from frittata.terms.program import Program
from frittata.terms.term import Term, postorder

QMAX = 127


@dataclass(frozen=True, slots=True)
class Quantized:
    """An int8 term `q` standing for q * 2^exp: signed in [-127, 127] (bits 0), or unsigned
    in [0, 2^bits - 1] (a low-bit activation, `frittata.quantize_lowbit`)."""

    q: Term
    exp: int
    bits: int = 0


@dataclass(frozen=True, slots=True)
class Layer:
    """A matched contraction layer: its input, float weight and bias, relu, and its
    contraction term (the conv2d or dense of the float program)."""

    x: Term
    name: str
    weight: np.ndarray
    bias: np.ndarray
    relu: bool
    contraction: Term
    cap: float | None = None
    """The upper clip bound of a capped relu (relu6 = clip(0, 6)), None for a plain relu or none."""

    @property
    def conv(self) -> Term | None:
        """The conv2d whose attributes the quantized layer keeps, None for a dense layer."""
        return self.contraction if self.contraction.op == Op.CONV2D else None


def _exponent(peak: float) -> int:
    """The smallest e with peak <= 127 * 2^e (symmetric int8)."""
    return math.ceil(math.log2(max(peak, 1e-30) / QMAX))


def _peaks(program: Program, calibration: Sequence[Mapping[str, np.ndarray]]) -> dict[int, float]:
    """Largest magnitude of every term over the calibration inputs."""
    terms = postorder(program.outputs.values())
    probe = Program({f"t{i}": t for i, t in enumerate(terms)})
    peaks: dict[int, float] = {}
    for inputs in calibration:
        for i, value in enumerate(evaluate(probe, inputs).values()):
            peaks[id(terms[i])] = max(peaks.get(id(terms[i]), 0.0), float(np.abs(value).max(initial=0)))
    return peaks


def _data(t: Term) -> np.ndarray:
    return t.attr("ref").data


def _unrelu(t: Term) -> tuple[Term, bool]:
    return (t.args[0], True) if t.op == Op.RELU else (t, False)


def _activation(t: Term) -> tuple[Term, bool, float | None]:
    """(input, relu, cap) of a relu, of a capped relu clip(0, hi) (hi > 0: relu6), of an uncapped
    clip(0, None) (a relu) or of neither."""
    if t.op == Op.CLIP and t.attr("lo") == 0:
        match t.attr("hi"):
            case None:
                return t.args[0], True, None
            case hi if hi > 0:
                return t.args[0], True, float(hi)
    return *_unrelu(t), None


def _match_dense(node: Term) -> Layer | None:
    t, relu, cap = _activation(node)
    if not (t.op == Op.ADD and t.dtype == "float32" and t.args[0].op == Op.DENSE
            and t.args[1].op == Op.PARAM and t.args[0].args[1].op == Op.PARAM):
        return None
    dense, bias = t.args
    w = dense.args[1]
    return Layer(dense.args[0], w.attr("ref").name, _data(w), _data(bias), relu, dense, cap)


def _match_conv(node: Term) -> Layer | None:
    """[act](conv2d(x, W) [+ bias]) or [act](batch_norm(conv2d(x, W))), W and the rest
    parameters, act a relu or a capped relu (`_activation`).

    A batch norm is folded into W and a bias; a bias is a parameter of C or (C, 1, 1) elements,
    possibly reshaped (what ONNX Conv imports as).
    """
    t, relu, cap = _activation(node)
    if t.dtype != "float32":
        return None
    match t.op:
        case Op.CONV2D:
            return _plain_conv(t, np.zeros(t.shape[1]), relu, cap)
        case Op.ADD if t.args[0].op == Op.CONV2D and (bias := _bias(t.args[1], t.shape[1])) is not None:
            return _plain_conv(t.args[0], bias, relu, cap)
        case Op.BATCH_NORM if all(a.op == Op.PARAM for a in t.args[1:]) and t.args[0].op == Op.CONV2D:
            gamma, beta, mean, var = (_data(a).astype(np.float64) for a in t.args[1:])
            scale = gamma / np.sqrt(var + t.attr("eps"))
            layer = _plain_conv(t.args[0], beta - mean * scale, relu, cap)
            return None if layer is None else Layer(layer.x, layer.name, layer.weight * scale.reshape(-1, 1, 1, 1),
                                                    layer.bias, relu, layer.contraction, cap)
        case _:
            return None


def _match_layer(node: Term) -> Layer | None:
    """The conv or dense layer `node` ends, if it ends one."""
    return _match_conv(node) or _match_dense(node)


def _plain_conv(conv: Term, bias: np.ndarray, relu: bool, cap: float | None) -> Layer | None:
    """The layer of a convolution of one group or a depthwise one (one input channel per group);
    other grouped convolutions stay float."""
    groups = conv.attr("groups")
    if conv.args[1].op != Op.PARAM or groups not in (1, conv.args[0].shape[1]):
        return None
    return Layer(conv.args[0], conv.args[1].attr("ref").name, _data(conv.args[1]), bias, relu, conv, cap)


def _bias(t: Term, channels: int) -> np.ndarray | None:
    """The per-channel bias a term adds to an NCHW conv output, if it is one."""
    inner = t.args[0] if t.op == Op.RESHAPE else t
    if inner.op != Op.PARAM or t.shape not in ((channels, 1, 1), (1, channels, 1, 1)):
        return None
    return _data(inner).reshape(-1).astype(np.float64)


def _accumulate(layer: Layer, x: Term, w: Term, exp: int) -> Term:
    """The int32 accumulator of `layer` over quantized x and w, whose products have exponent
    `exp`: its dense or conv2d (with the float layer's geometry) plus the bias at that exponent."""
    bias = np.rint(layer.bias * 2.0 ** -exp).astype(np.int32)
    if layer.conv is None:
        return tb.add(tb.dense(x, w), tb.param(f"{layer.name}:bq", bias))
    attrs = dict(layer.conv.attrs)
    conv = tb.conv2d(x, w, attrs["strides"], attrs["pads"], attrs["dilations"], attrs["groups"])
    return tb.add(conv, tb.param(f"{layer.name}:bq", bias.reshape(1, -1, 1, 1)))


def _requantize(acc: Term, relu: bool, shift: int, hi: int = QMAX) -> Term:
    acc = tb.relu(acc) if relu else acc
    return tb.cast(tb.clip(tb.right_shift(acc, shift), -QMAX, hi), "int8")


def _cap_code(layer: Layer, e_y: int) -> int:
    """The int8 code of the layer's cap at exponent e_y: round(cap * 2^-e_y) half to even
    (as `np.rint` quantizes a value at the cap), at most QMAX; QMAX without a cap."""
    return QMAX if layer.cap is None else min(QMAX, round(layer.cap * 2.0 ** -e_y))


def _widen(a: Quantized, exp: int) -> Term:
    """a as int32 at the finer exponent `exp` <= a.exp."""
    wide = tb.cast(a.q, "int32")
    return tb.mul(wide, 1 << (a.exp - exp)) if a.exp > exp else wide


class _Quantizer:
    """Rebuilds a program bottom-up: `memo` maps an original term to its float replacement,
    `ints` to its int8 form (made by a quantized layer, or by `int8` for a layer's float input);
    `produced` holds the ids of the terms a layer, residual add or integer pass made, whose
    codes are the term itself (a max pool or reshape of them stays on the codes: a float
    tensor's codes, quantized for some layer's input, would make an exact float pool lossy)."""

    def __init__(self, peaks: dict[int, float]) -> None:
        self.peaks = peaks
        self.memo: dict[int, Term] = {}
        self.ints: dict[int, Quantized] = {}
        self.produced: set[int] = set()

    def int8(self, original: Term) -> Quantized:
        """The int8 form of an original float term (quantizing its replacement if needed)."""
        if id(original) not in self.ints:
            e = _exponent(self.peaks[id(original)])
            x = tb.mul(self.memo[id(original)], float(2.0 ** -e))
            self.ints[id(original)] = Quantized(tb.cast(tb.clip(tb.round(x), -QMAX, QMAX), "int8"), e)
        return self.ints[id(original)]

    def match(self, node: Term) -> Layer | None:
        """The layer `node` ends, if it ends one."""
        return _match_layer(node)

    def visit(self, node: Term) -> None:
        layer = self.match(node)
        if layer is not None:
            self._produce(node, self._layer(layer, self.peaks[id(node)]))
        elif self._is_residual(node):
            self._produce(node, self._residual(node))
        elif node.op in INTEGER_PASS and id(node.args[0]) in self.produced:
            x = self.ints[id(node.args[0])]
            self._produce(node, Quantized(Term.make(node.op, (x.q,), node.attrs), x.exp, x.bits))
        else:
            self.memo[id(node)] = Term.make(node.op, tuple(self.memo[id(a)] for a in node.args), node.attrs)

    def _produce(self, node: Term, value: Quantized) -> None:
        self.produced.add(id(node))
        self.ints[id(node)] = value
        self.memo[id(node)] = tb.mul(tb.cast(value.q, "float32"), float(2.0 ** value.exp))

    def _layer(self, layer: Layer, peak_out: float) -> Quantized:
        x = self.int8(layer.x)
        e_w = _exponent(float(np.abs(layer.weight).max()))
        e_y = max(_exponent(peak_out), x.exp + e_w)
        wq = tb.param(f"{layer.name}:q", np.clip(np.rint(layer.weight * 2.0 ** -e_w), -QMAX, QMAX).astype(np.int8))
        acc = _accumulate(layer, x.q, wq, x.exp + e_w)
        return Quantized(_requantize(acc, layer.relu, e_y - x.exp - e_w, _cap_code(layer, e_y)), e_y)

    def _is_residual(self, node: Term) -> bool:
        t, _ = _unrelu(node)
        return t.op == Op.ADD and all(id(a) in self.ints for a in t.args) and t.dtype == "float32"

    def _residual(self, node: Term) -> Quantized:
        t, relu = _unrelu(node)
        a, b = (self.ints[id(arg)] for arg in t.args)
        exp = min(a.exp, b.exp)
        e_y = max(_exponent(self.peaks[id(node)]), exp)
        return Quantized(_requantize(tb.add(_widen(a, exp), _widen(b, exp)), relu, e_y - exp), e_y)


def _contractions(program: Program) -> list[int]:
    """Ids of the layers' contraction terms (conv2d / dense), in program order."""
    seen: list[int] = []
    for node in postorder(program.outputs.values()):
        layer = _match_layer(node)
        if layer is not None and id(layer.contraction) not in seen:
            seen.append(id(layer.contraction))
    return seen


class LowBitQuantizer(_Quantizer):
    """`_Quantizer` with low-bit middle layers (the formats of `frittata.quantize_lowbit`)."""

    def __init__(self, peaks: dict[int, float], bits: Mapping[str, int], program: Program) -> None:
        super().__init__(peaks)
        self.weight_bits, self.activation_bits = check_bits(bits)
        layers = _contractions(program)
        self.int8_layers = {layers[0], layers[-1]} if layers else set()
        self.inputs: dict[int, Quantized] = {}

    @property
    def hi(self) -> int:
        return (1 << self.activation_bits) - 1

    def match(self, node: Term) -> Layer | None:
        """`_Quantizer.match` without capped relus: a low-bit layer's activations are unsigned
        codes up to 2^bits - 1, so a relu6 after one stays a float op."""
        layer = super().match(node)
        return None if layer is None or layer.cap is not None else layer

    def visit(self, node: Term) -> None:
        layer = self.match(node)
        if layer is not None and self._lowbit(layer):
            self._produce(node, self._lowbit_layer(node, layer))
        else:
            super().visit(node)

    def _lowbit(self, layer: Layer) -> bool:
        """Whether `layer` gets low-bit operands: not the first or the last layer, nor a
        depthwise conv (int8: the bit-serial rules match one group only)."""
        depthwise = layer.conv is not None and layer.conv.attr("groups") != 1
        return not depthwise and id(layer.contraction) not in self.int8_layers

    def lowbit(self, original: Term) -> Quantized:
        """The low-bit activation form of an original term (`frittata.quantize_lowbit`)."""
        if id(original) in self.inputs:
            return self.inputs[id(original)]
        e = unsigned_exponent(self.peaks[id(original)], self.hi)
        if id(original) not in self.ints:
            v = tb.round(tb.mul(self.memo[id(original)], float(2.0 ** -e)))
            value = Quantized(tb.cast(tb.clip(v, 0, self.hi), "int8"), e, self.activation_bits)
        elif self._is_activation(self.ints[id(original)]):
            value = self.ints[id(original)]
        else:
            x = self.ints[id(original)]
            e = max(e, x.exp) if x.bits != self.activation_bits else x.exp
            v = tb.right_shift(tb.cast(x.q, "int32"), e - x.exp) if e > x.exp else x.q
            value = Quantized(tb.cast(tb.clip(v, 0, self.hi), "int8"), e, self.activation_bits)
        self.inputs[id(original)] = value
        return value

    def _is_activation(self, x: Quantized) -> bool:
        """Whether q is literally cast(clip(v, 0, hi), int8) of this quantizer's bits."""
        q = x.q
        return (x.bits == self.activation_bits and q.op == Op.CAST and q.attr("dtype") == "int8"
                and q.args[0].op == Op.CLIP and q.args[0].attr("lo") == 0 and q.args[0].attr("hi") == self.hi)

    def _lowbit_layer(self, node: Term, layer: Layer) -> Quantized:
        x = self.lowbit(layer.x)
        codes, e_w = weight_codes(layer.weight, self.weight_bits)
        packed = tb.bitpack(tb.param(f"{layer.name}:codes", codes), self.weight_bits, 1, "int64")
        w = tb.bitunpack(packed, codes.shape[1], 1, "bipolar")
        acc = _accumulate(layer, x.q, w, x.exp + e_w)
        peak = self.peaks[id(node)]
        if not layer.relu:
            e_y = max(_exponent(peak), x.exp + e_w)
            return Quantized(_requantize(acc, False, e_y - x.exp - e_w), e_y)
        e_y = max(unsigned_exponent(peak, self.hi), x.exp + e_w)
        shifted = tb.right_shift(acc, e_y - x.exp - e_w)
        return Quantized(tb.cast(tb.clip(shifted, 0, self.hi), "int8"), e_y, self.activation_bits)


def quantize(program: Program, calibration_inputs: Sequence[Mapping[str, np.ndarray]],
             bits: Mapping[str, int] | None = None) -> Program:
    """An int8 version of `program`'s conv / dense layers and residual adds (see the module
    docstring); the outputs stay float32. With `bits` ({"weights": 1 or 2, "activations":
    1 to 4}) every layer but the first and the last gets low-bit weights and activations
    (`frittata.quantize_lowbit`), which the CPU target runs on bit-serial kernels."""
    if not calibration_inputs:
        raise FrittataError("quantize: expected at least one calibration input dict, got none")
    peaks = _peaks(program, calibration_inputs)
    if bits is None:
        quantizer = _Quantizer(peaks)
    else:
        quantizer = LowBitQuantizer(peaks, bits, program)
    for node in postorder(program.outputs.values()):
        quantizer.visit(node)
    return Program({n: quantizer.memo[id(t)] for n, t in program.outputs.items()})
