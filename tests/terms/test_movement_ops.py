"""Movement ops: each against numpy on one array, and each refusal saying what it expected and got."""

import builtins
import itertools

import numpy as np
import onnx
import pytest
from onnx import helper

import frittata as ft
import frittata.terms as T
from frittata.terms.movement_ops import onnx_slice

X = T.var("x", (2, 3, 4))
DATA = np.arange(24, dtype=np.float32).reshape(2, 3, 4)


def run(term: T.Term, **more: np.ndarray) -> np.ndarray:
    return ft.evaluate(T.Program({"y": term}), {"x": DATA, **more})["y"]


@pytest.mark.parametrize("build, expected", [
    (lambda: T.reshape(X, (-1, 4)), DATA.reshape(-1, 4)),
    (lambda: T.reshape(X, (4, -1, 2)), DATA.reshape(4, 3, 2)),
    (lambda: T.flatten(X), DATA.reshape(2, 12)),
    (lambda: T.flatten(X, -1), DATA.reshape(6, 4)),
    (lambda: T.flatten(X, 0), DATA.reshape(1, 24)),
    (lambda: T.unsqueeze(X, [0, -1]), DATA[None, ..., None]),
    (lambda: T.transpose(X), DATA.transpose()),
    (lambda: T.transpose(X, (1, 2, 0)), DATA.transpose(1, 2, 0)),
    (lambda: T.slice(X, [(0, 2, 1), (None, None, -1), (-3, None, 2)]), DATA[0:2, ::-1, -3::2]),
    (lambda: T.slice(X, [(1, 0, -1), (0, 3, 1), (3, -5, -1)]), DATA[1:0:-1, 0:3, 3:-5:-1]),
    (lambda: T.pad(X, [(0, 0), (1, 2), (0, 1)], value=7), np.pad(DATA, [(0, 0), (1, 2), (0, 1)], constant_values=7)),
    (lambda: T.gather(X, [[0, -1], [1, 1]], axis=1), np.take(DATA, [[0, -1], [1, 1]], axis=1)),
    (lambda: T.gather(X, [3, 0], axis=-1), np.take(DATA, [3, 0], axis=-1)),
])
def test_a_movement_op_moves_values_as_numpy_does(build, expected):
    got = run(build())
    assert got.shape == expected.shape and np.array_equal(got, expected)


def test_concat_joins_along_its_axis_as_numpy_does():
    other = np.full((2, 5, 4), -1, np.float32)
    got = run(T.concat(X, T.var("z", (2, 5, 4)), X, axis=1), z=other)
    assert np.array_equal(got, np.concatenate([DATA, other, DATA], axis=1))


def test_squeeze_drops_the_size_1_axes_it_is_given_or_all_of_them():
    s = T.var("s", (1, 3, 1))
    assert T.squeeze(s).shape == (3,) and T.squeeze(s, [-1]).shape == (1, 3) and T.squeeze(s, [0]).shape == (3, 1)
    with pytest.raises(ft.FrittataTypeError, match=r"squeeze: expected size-1 axes \[1\], got float32\[1, 3, 1\]"):
        T.squeeze(s, [1])


@pytest.mark.parametrize("build, message", [
    (lambda: T.reshape(X, (-1, 5)), r"reshape: cannot infer -1 in \(-1, 5\) for float32\[2, 3, 4\]"),
    (lambda: T.reshape(X, (0, -1)), r"reshape: cannot infer -1 in \(0, -1\) for float32\[2, 3, 4\]"),
    (lambda: T.reshape(X, (-1, -1, 6)), r"reshape: expected a shape of 24 elements, got \(-1, -1, 6\) for"),
    (lambda: T.transpose(X, (0, 1)), r"transpose: expected a permutation of range\(3\), got \(0, 1\)"),
    (lambda: T.transpose(X, (0, 1, 1)), r"transpose: expected a permutation of range\(3\), got \(0, 1, 1\)"),
    (lambda: T.concat(X, T.var("y", (2, 5, 4)), axis=0),
     r"concat: expected operands like float32\[2, 3, 4\] except along axis 0, got float32\[2, 5, 4\]"),
    (lambda: T.concat(X, T.var("y", (2, 5, 4), "int32"), axis=1),
     r"concat: expected operands like float32\[2, 3, 4\] except along axis 1, got int32\[2, 5, 4\]"),
    (lambda: T.concat(X, T.var("y", (2, 3)), axis=1), r"concat: expected operands like .* got float32\[2, 3\]"),
    (lambda: T.slice(X, [(0, 2, 1)]), r"slice: expected 3 \(start, stop, step\) triples, got \(\(0, 2, 1\),\)"),
    (lambda: T.slice(X, [(0, 2, 1), (0, 3, 0), (0, 4, 1)]), r"expected a non-zero step on axis 1, got \(0, 3, 0\)"),
    (lambda: T.slice(X, [(0, 2, 1), (0, 3, 1, 7), (0, 4, 1)]), r"triple of ints or None on axis 1, got \(0, 3, 1, 7\)"),
    (lambda: T.slice(X, [(0, 2, 1), (0, 2.5, 1), (0, 4, 1)]), r"triple of ints or None on axis 1, got \(0, 2.5, 1\)"),
    (lambda: T.slice(X, [(0,), (0, 3, 1), (0, 4, 1)]), r"triple of ints or None on axis 0, got \(0,\)"),
    (lambda: T.slice(X, [(0, 2, 1), (0, 3, 1), ()]), r"triple of ints or None on axis 2, got \(\)"),
    (lambda: T.pad(X, [(0, 0), (1, -2), (0, 1)]), r"pad: expected 3 non-negative \(before, after\) pairs, got"),
    (lambda: T.pad(X, [(0, 0), (1, 2)]), r"pad: expected 3 non-negative \(before, after\) pairs, got"),
    (lambda: T.gather(X, [3], axis=1), r"gather: expected 1 indices in \[0, 3\), got \(3,\)"),
    (lambda: T.gather(X, [0, 1], axis=1, indices_shape=(3,)), r"gather: expected 3 indices in \[0, 3\), got \(0, 1\)"),
    (lambda: T.gather(X, [0], axis=3), r"gather: expected axis in \[-3, 3\), got 3"),
])
def test_a_bad_movement_says_what_it_expected_and_got(build, message):
    with pytest.raises(ft.FrittataTypeError, match=message):
        build()


@pytest.mark.parametrize("dim", [1, 4, 5])
def test_onnx_slice_bounds_select_what_python_slicing_selects(dim):
    """ONNX clamps starts and ends as Python slicing does (ONNX Slice-13), INT64 extremes meaning
    "from the end" and "to the start", but for one case: stepping backwards from a start below
    the first element, ONNX clamps the start to 0 (Python's slice is then empty)."""
    values = np.arange(dim)
    bounds = [-(2**63), -7, -dim, -2, -1, 0, 1, 2, dim - 1, dim, dim + 3, 2**63 - 1]
    for start, end, step in itertools.product(bounds, bounds, [-3, -1, 1, 2]):
        got = values[builtins.slice(*onnx_slice(dim, start, end, step))]
        python_start = 0 if step < 0 and start < -dim else start
        assert np.array_equal(got, values[python_start:end:step]), (dim, start, end, step)


def onnx_model(node, inits=(), x=(2, 3)):
    info = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(x))
    graph = helper.make_graph([node], "g", [info], [helper.make_tensor_value_info(node.output[0], 1, None)],
                              initializer=list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


def ints(name, values):
    return helper.make_tensor(name, onnx.TensorProto.INT64, [len(values)], values)


@pytest.mark.parametrize("node, inits, x, message", [
    (helper.make_node("Slice", ["x", "s", "e", "a", "k"], ["y"]),
     [ints("s", [0]), ints("e", [2]), ints("a", [1]), ints("k", [0])], (2, 3), "unsupported: Slice with step 0"),
    (helper.make_node("Pad", ["x", "p"], ["y"], mode="reflect"), [ints("p", [1, 0, 1, 0])], (1, 3),
     "unsupported: Pad mode 'reflect' of an axis of 1"),
    (helper.make_node("Pad", ["x", "p"], ["y"], mode="mirror"), [ints("p", [0, 0, 0, 0])], (2, 3),
     "unsupported: Pad mode 'mirror'; expected constant, edge, reflect or wrap"),
    (helper.make_node("Pad", ["x", "p"], ["y"]), [ints("p", [0, 1, 1])], (2, 3),
     r"Pad: expected 4 pads for axes \[0, 1\], got \[0, 1, 1\]"),
    (helper.make_node("Split", ["x", "s"], ["y", "z"], axis=1), [ints("s", [1, 1])], (2, 3),
     r"Split: expected part sizes summing to 3, got \[1, 1\]"),
])
def test_an_onnx_movement_we_refuse_is_named(node, inits, x, message):
    with pytest.raises(ft.FrontendError, match=message):
        ft.from_onnx(onnx_model(node, inits, x))


@pytest.mark.parametrize("mode, pads", [("reflect", [1, 2, 2, 1]), ("edge", [0, 3, 1, 0]), ("wrap", [2, 1, 1, 3]),
                                        ("constant", [1, 0, 0, 2]), ("constant", [-1, 1, 0, -2])])
def test_onnx_pad_modes_match_numpy(mode, pads):
    node = helper.make_node("Pad", ["x", "p"], ["y"], mode=mode)
    program = ft.from_onnx(onnx_model(node, [ints("p", pads)], (3, 4)))
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    before, after = pads[:2], pads[2:]
    grown = np.pad(data, [(max(b, 0), max(a, 0)) for b, a in zip(before, after)], mode=mode)
    expected = grown[tuple(builtins.slice(-min(b, 0), d + min(a, 0)) for b, a, d in zip(before, after, grown.shape))]
    assert np.array_equal(ft.evaluate(program, {"x": data})["y"], expected)
