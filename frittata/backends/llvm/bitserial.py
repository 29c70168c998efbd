"""Bit-serial conv2d / dense on packed words lowered to LLVM IR, register-blocked.

bitserial_conv2d(xp [N, H, W, A, K], wp [O, KH, KW, B, K]) -> out [N, O, OH, OW] (A activation
and B weight bit planes of K words); bitserial_dense is the same with H = W = KH = KW = 1.
Weights that are parameters are repacked at compile time into blocks of V output channels, the
V words of one (kh, kw, j, k) adjacent, so one vector load gives the words of V channels:

    wv[ob, kh, kw, j, k, v] = wp[ob*V + v, kh, kw, j, k]        (0 past O)

with V the 64-bit lanes of the target's vectors (4 with AVX2, 8 with AVX-512); computed weights
are read in place with V = 1 (the same layout). The schedule (`bitserial_schedules.bitserial_schedule`)
sets the register block: a tile is `pixels` output pixels of one row by `blocks` channel blocks,
so each activation word loaded is used by `blocks` weight vectors and each weight vector by
`pixels` activation words. Each thread takes a share of the rows (n, tile group, oh, tile) -- a
group of tiles whose weights fit half of L1 is walked over all output rows, each row's input
rows staying in cache across the group. A kernel row of the window that lies in the padding is
skipped; only the border columns, whose window may leave the image, check each load's column:

    acc[p, m] += ctpop(splat(x[n, ih, iw_p, i, k]) & wv[tile*M + m, kh, kw, j, k, :]) << (i + j)
    bipolar weights: out = 2 acc - (2^B - 1) Σ_{kh,kw,k,i} ctpop(x[n, ih, iw_p, i, k]) << i

(popcount(x & w) - popcount(x & ~w) = 2 popcount(x & w) - popcount(x)). Two popcount paths:

  * `llvm.ctpop` of the 64-bit lanes, which is VPOPCNTQ where the target has AVX512-VPOPCNTDQ
    (the AVX-512 kernels, V = 8) and LLVM's expansion elsewhere;
  * on AVX2 (V = 4 words of 64 bits) the nibble lookup, with the nibbles split once per operand
    instead of once per word pair: the weights' low and high nibbles are stored apart at compile
    time (wv[..., k, 0, :] = w & 0x0f.., wv[..., k, 1, :] = (w >> 4) & 0x0f..), an activation
    word is split once per step and shared by all weight vectors of the tile, so a word pair
    costs two ANDs, two VPSHUFB lookups (`NIBBLE_COUNTS`) and two byte adds. Byte counters are
    summed by VPSADBW into the 64-bit accumulators only every so many words (`flush_plan`): a
    byte gains at most 8 per word pair, times 2^(i+j) where one counter takes every plane pair
    through tables scaled by 2^(i+j) (when 8 (2^A - 1)(2^B - 1) <= 255), else one counter per
    class c = i + j, shifted by c when summed.

The loops are `bitserial_emitter.Emitter`'s; AVX2's table kernel for one or two activation planes
and one weight plane (one plane: two pixels a lookup) is `bitserial_tables.TableEmitter`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from llvmlite import ir

from frittata.backends.llvm.bitserial_emitter import LOW_NIBBLES, Emitter, Geometry
from frittata.backends.llvm.bitserial_epilogue import Epilogue
from frittata.backends.llvm.bitserial_tables import TableEmitter, activation_tables, table_weights
from frittata.backends.llvm.kernel import Kernel
from frittata.backends.llvm.plan import Plan, Step
from frittata.backends.llvm.views import View, contiguous, padded
from frittata.terms.bitserial_schedules import TABLE_CHANNELS, table_blocks, table_pixels, uses_nibbles, uses_tables
from frittata.terms.ops import Op
from frittata.terms.term import Term


def repack(weights: np.ndarray, v: int, blocks: int = 1, nibbles: bool = False) -> np.ndarray:
    """wp [O, KH, KW, B, K] as [ceil(O / (V * blocks)) * blocks, KH, KW, B, K, V] (zeros past O);
    with `nibbles`, [..., K, 2, V]: the low nibbles of each byte, then the high ones shifted down."""
    o = weights.shape[0]
    total = -(-o // (v * blocks)) * v * blocks
    padded_w = np.zeros((total,) + weights.shape[1:], weights.dtype)
    padded_w[:o] = weights
    out = np.moveaxis(padded_w.reshape((total // v, v) + weights.shape[1:]), 1, -1)
    if nibbles:
        words = out.view(np.uint64)
        low = np.uint64(LOW_NIBBLES)
        out = np.stack([words & low, (words >> np.uint64(4)) & low], axis=-2).view(weights.dtype)
    return np.ascontiguousarray(out)


def _x_view(t: Term, x: View) -> View:
    """The packed activations as [N, H, W, A, K] with the convolution's zero padding."""
    if t.op == Op.BITSERIAL_DENSE:
        a, words = t.args[0].shape[-2:]
        return contiguous(x.buf, (x.buf.type.size // (a * words), 1, 1, a, words))
    top, left, bottom, right = t.attr("pads")
    return padded(x, ((0, 0), (top, bottom), (left, right), (0, 0), (0, 0)), 0)


def lower(k: Kernel, plan: Plan, step: Step, args: list[View]) -> None:
    """Emit bitserial_conv2d / bitserial_dense `step` (see the module docstring)."""
    t, g = step.term, Geometry.of(step.term, k.lanes)
    if uses_tables(t.op, t.attrs, t.args[0].type, t.args[1].type, t.args[1].op == Op.PARAM, k.lanes):
        _lower_tables(k, plan, step, args, g)
        return
    nibbles = uses_nibbles(k.lanes, t.args[0].dtype, t.args[1].op == Op.PARAM)
    if t.args[1].op == Op.PARAM:
        data = repack(t.args[1].attr("ref").data, g.v, g.blocks, nibbles)
        weights = k.base(plan.add_param(f"{k.function.name}.bitserial", data))
    else:
        weights = k.base(args[1].buf)
    _run(k, plan, step, args, Emitter(k, g, _x_view(t, args[0]), weights, _out_view(step, g),
                                       t.attr("encoding") == "bipolar", t.args[0].dtype, nibbles))


def _lower_tables(k: Kernel, plan: Plan, step: Step, args: list[View], g: Geometry) -> None:
    """The activation-indexed lookup kernel (`TableEmitter`) for `step`."""
    t = step.term
    g = replace(g, v=TABLE_CHANNELS, pixels=table_pixels(g.a), blocks=table_blocks(g.o, g.a))
    packed = t.args[1].attr("ref").data
    weights = k.base(plan.add_param(f"{k.function.name}.bitserial", table_weights(packed, g)))
    tables = k.base(plan.add_param(f"{k.function.name}.tables", activation_tables(g.a)))
    _run(k, plan, step, args, TableEmitter(k, g, _x_view(t, args[0]), weights, _out_view(step, g),
                                            t.attr("encoding") == "bipolar", tables, packed))


def _out_view(step: Step, g: Geometry) -> View:
    """The output as [N, O, OH, OW]."""
    return contiguous(step.out, (g.n, g.o, g.oh, g.ow))


def _run(k: Kernel, plan: Plan, step: Step, args: list[View], emitter: Emitter) -> None:
    """Give `emitter` the step's bias and epilogue, if it has either, and emit its rows."""
    t = step.term
    if len(t.args) == 3 or dict(t.attrs).get("epilogue"):
        if isinstance(emitter, TableEmitter) and (len(t.args) < 3 or t.args[2].op == Op.PARAM):
            bias = t.args[2].attr("ref").data if len(t.args) == 3 else np.zeros(emitter.g.o, np.int32)
            emitter.use_thresholds(plan, bias, t.attr("epilogue"))
        if not (isinstance(emitter, TableEmitter) and emitter.thresholds is not None):  # compares fold the bias
            emitter.epilogue = Epilogue(_bias(k, plan, t, args, emitter.g), t.attr("epilogue"))
    emitter.rows()


def _bias(k: Kernel, plan: Plan, t: Term, args: list[View], g: Geometry) -> ir.Value | View | None:
    """The bias operand: a parameter padded with zeros to whole tiles (its address), a computed
    one as its view, or None."""
    if len(t.args) < 3:
        return None
    if t.args[2].op != Op.PARAM:
        return args[2]
    data = np.zeros(g.tiles * g.blocks * g.v, np.int32)
    data[:g.o] = t.args[2].attr("ref").data
    return k.base(plan.add_param(f"{k.function.name}.bias", data))
