"""Bit packing and bit-serial conv2d / dense: the interpreter equals the integer contraction of
the unpacked values, on random shapes, bit widths, encodings and word dtypes; ONNX export
runs in onnxruntime with the same results."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import given
from hypothesis import strategies as st

import frittata.terms as T
from frittata.errors import FrittataTypeError
from frittata.terms.bitserial import WORD_BITS
from frittata.terms.onnx_export import to_onnx

WORDS = st.sampled_from(sorted(WORD_BITS))
ENCODINGS = st.sampled_from(["unipolar", "bipolar"])


def weight_values(codes: np.ndarray, bits: int, encoding: str) -> np.ndarray:
    """The integer a code of `bits` bits stands for: itself, or the odd 2c - (2^bits - 1)."""
    return codes if encoding == "unipolar" else 2 * codes - ((1 << bits) - 1)


def run_onnx(program: T.Program, inputs: dict) -> list[np.ndarray]:
    session = ort.InferenceSession(to_onnx(program).SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


@given(st.integers(1, 7), st.integers(1, 70), st.integers(0, 2), WORDS, st.integers(0, 2**32 - 1))
def test_bitpack_then_bitunpack_is_the_low_bits(bits, n, axis, word, seed):
    rng = np.random.default_rng(seed)
    shape = [2, 3, 2]
    shape[axis] = n
    x = rng.integers(-128, 128, shape).astype(np.int8)
    packed = T.bitpack(T.var("x", shape, "int8"), bits, axis, word)
    assert packed.shape[-2:] == (bits, -(-n // WORD_BITS[word]))
    back = T.evaluate(T.bitunpack(packed, n, axis), {"x": x})
    np.testing.assert_array_equal(back, x.astype(np.int64) & ((1 << bits) - 1))


def test_bitpack_word_layout():
    """Bit i of word w of plane b is bit b of element w*W + i."""
    x = np.array([1, 2, 3, 0, 1, 0, 0, 0, 2], np.int8)
    words = T.evaluate(T.bitpack(T.var("x", (9,), "int8"), 2, 0, "uint8"), {"x": x})
    assert words.tolist() == [[0b00010101, 0], [0b00000110, 1]]


def test_bipolar_unpacks_to_odd_values():
    codes = np.array([[0, 1, 2, 3]], np.int8)
    packed = T.bitpack(T.var("c", (1, 4), "int8"), 2, 1, "int32")
    assert T.evaluate(T.bitunpack(packed, 4, 1, "bipolar"), {"c": codes}).tolist() == [[-3, -1, 1, 3]]


@pytest.mark.parametrize("size, axis, encoding, message", [
    (17, 0, "unipolar", r"bitunpack: expected size in \[0, 16\] \(2 words of 8 bits\), got 17"),
    (-1, 0, "unipolar", r"expected size in \[0, 16\] .*, got -1"),
    (4, 2, "unipolar", r"bitunpack: expected axis in \[0, 1\], got 2"),
    (4, 0, "ternary", r"bitunpack: expected encoding in .*, got ternary"),
])
def test_bitunpack_refuses_what_its_packed_words_do_not_hold(size, axis, encoding, message):
    """A [3, 5] input packed in 2 planes of 2 uint8 words: the refusals say what was expected and got."""
    packed = T.bitpack(T.var("x", (3, 5), "int8"), 2, 1, "uint8")
    assert packed.shape == (3, 2, 1) and T.bitunpack(packed, 5, 1).shape == (3, 5)
    wide = T.bitpack(T.var("x", (3, 9), "int8"), 2, 1, "uint8")
    assert wide.shape == (3, 2, 2) and T.bitunpack(wide, 16, 0).shape == (16, 3)
    with pytest.raises(FrittataTypeError, match=message):
        T.bitunpack(wide, size, axis, encoding)


@st.composite
def conv_cases(draw):
    a_bits, w_bits = draw(st.integers(1, 4)), draw(st.integers(1, 2))
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 70)), draw(st.integers(1, 9))
    k, stride, pad = draw(st.sampled_from([1, 3])), draw(st.integers(1, 2)), draw(st.integers(0, 1))
    h, w = draw(st.integers(k, 7)), draw(st.integers(k, 7))
    return a_bits, w_bits, (n, c, h, w), (o, c, k, k), stride, pad, draw(ENCODINGS), draw(WORDS)


@given(conv_cases(), st.integers(0, 2**32 - 1))
def test_bitserial_conv2d_is_the_integer_conv2d(case, seed):
    a_bits, w_bits, xs, ws, stride, pad, encoding, word = case
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << a_bits, xs).astype(np.int8)
    codes = rng.integers(0, 1 << w_bits, ws).astype(np.int8)
    xv, wv = T.var("x", xs, "int8"), T.var("w", ws, "int8")
    got = T.bitserial_conv2d(T.bitpack(xv, a_bits, 1, word), T.bitpack(wv, w_bits, 1, word), stride, pad,
                             encoding=encoding)
    want = T.conv2d(T.var("x", xs, "int8"), T.var("v", ws, "int8"), stride, pad)
    np.testing.assert_array_equal(T.evaluate(got, {"x": x, "w": codes}),
                                  T.evaluate(want, {"x": x, "v": weight_values(codes, w_bits, encoding)}))


def test_bias_and_epilogue_requantize_the_sums():
    """bitserial_conv2d(..., bias, epilogue) = epilogue(conv + bias): here the rounding shift,
    the clip to the 2-bit codes and the cast of a low-bit layer's requantization."""
    x = np.array([[[[1]], [[3]], [[2]]]], np.int8)
    codes = np.array([[[[1]], [[1]], [[0]]], [[[0]], [[1]], [[1]]]], np.int8)
    xv, wv = T.var("x", x.shape, "int8"), T.var("w", codes.shape, "int8")
    bias = T.param("b", np.array([2, -9], np.int32))
    got = T.bitserial_conv2d(T.bitpack(xv, 2, 1), T.bitpack(wv, 1, 1), encoding="bipolar", bias=bias,
                             epilogue=[("shift", 1), ("clip", 0, 3), ("cast", "int8")])
    assert got.dtype == "int8"
    sums = np.array([1 + 3 - 2 + 2, -1 + 3 + 2 - 9])  # 4 and -5
    want = np.clip((sums + 1) >> 1, 0, 3)  # 2 and 0 (-5 rounds half up to -2, then clipped)
    assert T.evaluate(got, {"x": x, "w": codes}).reshape(-1).tolist() == want.tolist()


@given(st.integers(1, 4), st.integers(1, 2), st.integers(1, 3), st.integers(1, 130), st.integers(1, 9), ENCODINGS,
       WORDS, st.integers(0, 2**32 - 1))
def test_bitserial_dense_is_the_integer_dense(a_bits, w_bits, m, k, n, encoding, word, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << a_bits, (m, k)).astype(np.int8)
    codes = rng.integers(0, 1 << w_bits, (n, k)).astype(np.int8)
    got = T.bitserial_dense(T.bitpack(T.var("x", (m, k), "int8"), a_bits, 1, word),
                            T.bitpack(T.var("w", (n, k), "int8"), w_bits, 1, word), encoding, "int64")
    assert got.dtype == "int64"
    want = x.astype(np.int64) @ weight_values(codes, w_bits, encoding).astype(np.int64).T
    np.testing.assert_array_equal(T.evaluate(got, {"x": x, "w": codes}), want)


@pytest.mark.parametrize("word", sorted(WORD_BITS))
def test_onnx_export_runs_in_onnxruntime(rng, word):
    x = rng.integers(0, 4, (1, 37, 5, 5)).astype(np.int8)
    codes = rng.integers(0, 2, (6, 37, 3, 3)).astype(np.int8)
    xv, wv = T.var("x", x.shape, "int8"), T.var("w", codes.shape, "int8")
    packed = T.bitpack(xv, 2, 1, word)
    conv = T.bitserial_conv2d(packed, T.bitpack(wv, 1, 1, word), 2, 1, encoding="bipolar")
    program = T.Program({"packed": packed, "conv": conv})
    inputs = {"x": x, "w": codes}
    for got, want in zip(run_onnx(program, inputs), T.evaluate(program, inputs).values()):
        np.testing.assert_array_equal(got, want)


def test_bad_operands_name_the_op():
    x = T.var("x", (1, 8, 4, 4), "int8")
    with pytest.raises(FrittataTypeError, match="bitpack: expected bits in"):
        T.bitpack(x, 9)
    with pytest.raises(FrittataTypeError, match="bitpack: expected an integer tensor"):
        T.bitpack(T.var("f", (4,), "float32"), 1, 0)
    packed = T.bitpack(x, 2, 1, "int64")
    with pytest.raises(FrittataTypeError, match="bitserial_conv2d: expected weights packed like"):
        T.bitserial_conv2d(packed, T.bitpack(T.var("w", (2, 8, 3, 3), "int8"), 1, 1, "int32"))
    weights = T.bitpack(T.var("w", (2, 8, 3, 3), "int8"), 1, 1)
    with pytest.raises(FrittataTypeError, match="bitserial_conv2d: expected bias int32\\[2\\]"):
        T.bitserial_conv2d(packed, weights, bias=T.var("b", (3,), "int32"))
    with pytest.raises(FrittataTypeError, match="bitserial_conv2d: expected out_dtype int32 with a bias"):
        T.bitserial_conv2d(packed, weights, out_dtype="int64", epilogue=[("relu",)])
    with pytest.raises(FrittataTypeError, match="bitserial_conv2d: expected epilogue steps"):
        T.bitserial_conv2d(packed, weights, epilogue=[("cast", "float32")])
    with pytest.raises(FrittataTypeError, match="bitserial_dense: expected encoding"):
        T.bitserial_dense(T.bitpack(T.var("d", (2, 8), "int8"), 1, 1), T.bitpack(T.var("v", (3, 8), "int8"), 1, 1),
                          encoding="ternary")


def test_unpacked_activations_and_out_of_range_schedules_are_refused():
    dense_weights = T.bitpack(T.var("v", (3, 8), "int8"), 1, 1)
    with pytest.raises(FrittataTypeError, match="bitserial_dense: expected packed activations of a packing dtype"):
        T.bitserial_dense(T.var("p", (2, 1, 1), "float32"), dense_weights)
    packed = T.bitpack(T.var("d", (2, 8), "int8"), 1, 1)
    assert T.bitserial_dense(packed, dense_weights, schedule=(("pixels", 8), ("blocks", 16))).shape == (2, 3)
    expected = r"bitserial_dense: expected pixels in \[1, 8\] and blocks in \[1, 16\]"
    with pytest.raises(FrittataTypeError, match=expected):
        T.bitserial_dense(packed, dense_weights, schedule=(("pixels", 9), ("blocks", 1)))
    keys = r"bitserial_dense: expected a schedule \(\) or with keys \('pixels', 'blocks'\), got \(\('blocks', 1\), "
    with pytest.raises(FrittataTypeError, match=keys):
        T.bitserial_dense(packed, dense_weights, schedule=(("blocks", 1), ("pixels", 1)))
