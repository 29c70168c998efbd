"""Per-operator proposals for rule instances: operand types that fit, and attribute samples.

`propose` gives the type of operand i of an operator from the operands already built;
`sample_attr` draws an attribute the pattern leaves open. Both only make well-typed terms
likely; type inference still decides (see `frittata.rewrites.instances`).
"""

from __future__ import annotations


from frittata.rewrites.exprs import Lit
from frittata.terms.bitserial import WORD_BITS
from frittata.terms.dtypes import TensorType, is_int
from frittata.terms.ops import BINARY, Op
from frittata.terms.term import Term


def propose(inst, p, i: int, prev: list[Term], attrs: dict, hint) -> TensorType:
    """A type for operand i of `p.op`, fitted to the operands `prev` built before it."""
    if i == 0 and p.op == Op.BITUNPACK and hint is not None:
        return _packed_operand(inst, p, hint)
    if p.op in (Op.BITSERIAL_CONV2D, Op.BITSERIAL_DENSE):
        return _bitserial_operand(inst, p.op, i, prev)
    if i == 0:
        return inst.free_type(p.op, hint)
    x = prev[0].type
    match p.op:
        case _ if p.op in BINARY or p.op in (Op.WHERE, Op.CONCAT):
            return _broadcast_partner(inst, x)
        case Op.CONV2D | Op.FUSED_CONV2D:
            return _conv_operand(inst, i, prev, attrs)
        case Op.DENSE | Op.FUSED_DENSE:
            return _dense_operand(inst, i, prev, attrs)
        case Op.MATMUL:  # a batched x sometimes meets batched weights
            batch = x.shape[:-2] if x.rank > 2 and inst.rng.random() < 0.5 else ()
            return TensorType(batch + (x.shape[-1], inst.dims(1)[0]), x.dtype)
        case Op.BATCH_NORM:
            return TensorType((x.shape[1],), x.dtype)
        case Op.LAYER_NORM:
            return TensorType(x.shape[attrs["axis"]:], x.dtype)
        case _:
            return x


def _unpacked_axis(p, hint: TensorType) -> int:
    """The axis a bitunpack pattern unpacks along: its literal, else 0."""
    given = dict(p.attrs).get("axis")
    return given.value if isinstance(given, Lit) and isinstance(given.value, int) else 0


def _packed_operand(inst, p, hint: TensorType) -> TensorType:
    """Packed words whose unpacking has the wanted type: its axis gives 1-2 bit planes of words,
    as many words as it needs or, in half of the instances, one or two more (packed for a wider
    layer; unpacking drops them)."""
    axis = _unpacked_axis(p, hint)
    word = str(inst.rng.choice(sorted(WORD_BITS)))
    words = -(-hint.shape[axis] // WORD_BITS[word]) + int(inst.rng.choice([0, 0, 1, 2]))
    rest = hint.shape[:axis] + hint.shape[axis + 1:]
    return TensorType(rest + (int(inst.rng.integers(1, 3)), words), word)


def _bitserial_operand(inst, op: Op, i: int, prev: list[Term]) -> TensorType:
    """Packed activations [N, H, W, bits, words] (dense: [M, bits, words]), then weights of the
    same word dtype and count with 1-2 bit planes ([O, k, k, bits, words]; dense [O, bits, words]),
    then a convolution's int32 bias [O]."""
    conv = op == Op.BITSERIAL_CONV2D
    if i == 2:
        return TensorType(prev[1].shape[:1], "int32")
    if i == 0:
        word = str(inst.rng.choice(sorted(WORD_BITS)))
        pixels = tuple(int(d) for d in inst.rng.integers(3, 7, 2)) if conv else ()
        return TensorType((int(inst.rng.integers(1, 3)),) + pixels + (int(inst.rng.integers(1, 4)),
                                                                       int(inst.rng.integers(1, 3))), word)
    x = prev[0].type
    k = (int(inst.rng.choice([1, 3])),) * 2 if conv else ()
    return TensorType((inst.dims(1)[0],) + k + (int(inst.rng.integers(1, 3)), x.shape[-1]), x.dtype)


def _broadcast_partner(inst, x: TensorType) -> TensorType:
    """A second operand x broadcasts with: x's shape, a scalar, a scalar kept at a rank up to
    x's (`[1]`, `[1 1 1 1]`: it broadcasts as a scalar does, yet a shape guard reading a weight
    dimension that happens to be 1 takes it for a per-channel operand), a per-axis vector, or a
    shape with a leading axis more (x broadcasts up, so the result is not x's shape)."""
    ones = (1,) * int(inst.rng.integers(1, x.rank + 1)) if x.rank else ()
    choices = [x.shape, x.shape, (), ones, (2,) + x.shape]
    if x.rank >= 2:
        choices.append(tuple(d if a == 1 else 1 for a, d in enumerate(x.shape)))
    if x.rank >= 3:  # a per-channel operand with the batch axis left to broadcasting: [C 1 1]
        choices.append(x.shape[1:2] + (1,) * (x.rank - 2))
    if x.rank >= 1:
        choices.append(x.shape[-1:])
    return TensorType(choices[int(inst.rng.integers(len(choices)))], x.dtype)


def _acc_dtype(x: TensorType) -> str:
    return "int32" if is_int(x.dtype) else x.dtype


# Kernel sizes as models use them: mostly 1x1 and 3x3; 5x5, 7x7 first layers; in half the
# instances height and width are drawn apart (1x7 / 7x1 as in Inception).
_KERNEL_SIZES = (1, 1, 3, 3, 5, 7)


def _conv_operand(inst, i: int, prev: list[Term], attrs: dict) -> TensorType:
    x = prev[0].type
    if i == 1:
        groups = attrs["groups"]
        out = groups * inst.dims(1)[0]
        top, left, bottom, right = attrs["pads"]
        k = int(inst.rng.choice(_KERNEL_SIZES))
        k2 = int(inst.rng.choice(_KERNEL_SIZES)) if inst.rng.random() < 0.5 else k
        kh, kw = min(k, x.shape[2] + top + bottom), min(k2, x.shape[3] + left + right)
        return TensorType((out, x.shape[1] // groups, kh, kw), x.dtype)
    conv_attrs = tuple((k, attrs[k]) for k in ("strides", "pads", "dilations", "groups"))
    acc = Term.make(Op.CONV2D, tuple(prev[:2]), conv_attrs)
    if i == 2:
        return TensorType((acc.shape[1],), _acc_dtype(x))
    return TensorType(acc.shape, _residual_dtype(x, attrs["epilogue"]))


def _dense_operand(inst, i: int, prev: list[Term], attrs: dict) -> TensorType:
    x = prev[0].type
    if i == 1:
        return TensorType((inst.dims(1)[0], x.shape[-1]), x.dtype)
    n = prev[1].shape[0]
    if i == 2:
        return TensorType((n,), _acc_dtype(x))
    return TensorType(x.shape[:-1] + (n,), _residual_dtype(x, attrs["epilogue"]))


def _residual_dtype(x: TensorType, epilogue) -> str:
    dtype = _acc_dtype(x)
    for step in epilogue:
        if step[0] == "add":
            return dtype
        if step[0] == "cast":
            dtype = step[1]
    return dtype


def sample_attr(inst, p, name: str, args: list[Term], hint) -> object:
    """A random value for attribute `name` of `p.op`, fitted to its first operand.

    Attributes that depend only on the operand draw from their op's table entry
    (`Attr.choices`); the ones that depend on the pattern or the wanted type are drawn here.
    """
    rng = inst.rng
    x = args[0].type if args else TensorType((), "float32")  # operand-less ops have no attribute that reads x
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    match p.op, name:
        case _, "epilogue":
            return _epilogue(inst, x, len(p.args) == 4)
        case Op.FUSED_ELEMENTWISE, "expr":
            return _elementwise_expr(inst, len(p.args), x.dtype)
        case Op.CONST, "dtype":
            return hint.dtype if hint is not None else pick(["float32", "int32"])
        case Op.CONST, "value":
            return pick([0, 1, 2, -1, 3])
        case Op.BITUNPACK, "size" if hint is not None:
            return hint.shape[_unpacked_axis(p, hint)]
        case _:
            spec = next((a for a in p.op.attrs if a.name == name), None)
            if spec is None or spec.choices is None:
                raise KeyError(f"no sampler for attribute {name!r} of {p.op.value}")
            return pick(list(spec.choices(x)))


def _elementwise_expr(inst, operands: int, dtype: str) -> tuple:
    """A random expression using each of `operands` operands of one dtype once, in order."""
    rng = inst.rng
    binary = ["add", "sub", "mul", "maximum", "minimum"]
    unary = ["relu", "neg", "abs"] + (["tanh", "exp", "sigmoid"] if dtype == "float32" else [])
    expr: tuple = ("arg", 0)
    for i in range(1, operands):
        expr = (binary[int(rng.integers(len(binary)))], expr, ("arg", i))
        if rng.random() < 0.4:
            expr = (unary[int(rng.integers(len(unary)))], expr)
    return expr if rng.random() < 0.5 else (unary[int(rng.integers(len(unary)))], expr)


def _epilogue(inst, x: TensorType, residual: bool) -> tuple:
    """0-2 random steps (a residual add inserted anywhere): relu, shift, clip (integer bounds
    near the data, past VTA's 16-bit immediates, or one of them none), a cast to int8 (last,
    or first). Float clips have both bounds or one of them none."""
    rng = inst.rng
    integer = is_int(x.dtype)
    bounds = ([(-4, 4), (-4, 4), (None, 4), (-4, None), (-70000, 70000)] if integer
              else [(-1.0, 1.0), (-1.0, 1.0), (None, 1.0), (-1.0, None)])
    steps: list[tuple] = []
    for _ in range(int(rng.integers(0, 3))):
        lo, hi = bounds[int(rng.integers(len(bounds)))]
        steps.append([("relu",), ("clip", lo, hi),
                      ("shift", int(rng.integers(0, 5))) if integer else ("relu",)][int(rng.integers(3))])
    if residual:
        steps.insert(int(rng.integers(len(steps) + 1)), ("add",))
    if integer and rng.random() < 0.3:
        steps.insert(len(steps) if rng.random() < 0.8 else 0, ("cast", "int8"))
    return tuple(steps)
