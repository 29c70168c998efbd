"""Opset-specific ONNX semantics (opsets 7 to the newest), checked against onnxruntime: the
attribute -> input moves, legacy forms, initializers listed as graph inputs, `constants=`."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import frittata as ft
from frittata.terms.onnx_import import OPSETS
from tests.terms.conftest import assert_matches_ort, one_node_model, run_ort

R = np.random.default_rng(7)
X = R.standard_normal((2, 3, 4, 5)).astype(np.float32)


def old(node: onnx.NodeProto, opset: int, inits: dict | None = None, x: np.ndarray = X) -> onnx.ModelProto:
    return one_node_model(node, {"x": x}, initializers=inits, opset=opset)


def test_opsets_reach_the_newest_onnx_defines():
    assert OPSETS.start == 7 and OPSETS.stop - 1 == onnx.defs.onnx_opset_version()


@pytest.mark.parametrize("opset", [7, 9, 10, 11, 13, 18, onnx.defs.onnx_opset_version()])
def test_every_opset_imports_a_conv_relu_block(opset):
    w = R.standard_normal((4, 3, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", 1, X.shape)],
                              [helper.make_tensor_value_info("y", 1, None)], [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    assert_matches_ort(model, {"x": X})


CASES = {
    "Slice-9-attrs": (helper.make_node("Slice", ["x"], ["y"], starts=[1, -3], ends=[3, 100], axes=[1, 3]), 9),
    "Clip-10-attrs": (helper.make_node("Clip", ["x"], ["y"], min=-0.5, max=0.7), 10),
    "Clip-6-no-max": (helper.make_node("Clip", ["x"], ["y"], min=0.0), 7),
    "Pad-10-attrs": (helper.make_node("Pad", ["x"], ["y"], pads=[0, 1, 0, 2, 0, 0, 1, 1], value=1.5), 10),
    "Pad-10-edge": (helper.make_node("Pad", ["x"], ["y"], pads=[0, 0, 2, 1, 0, 0, 1, 3], mode="edge"), 10),
    "Pad-10-reflect": (helper.make_node("Pad", ["x"], ["y"], pads=[0, 0, 2, 1, 0, 0, 1, 3], mode="reflect"), 10),
    "Squeeze-11-attr": (helper.make_node("Unsqueeze", ["x"], ["y"], axes=[0, -1]), 11),
    "ReduceSum-11-attr": (helper.make_node("ReduceSum", ["x"], ["y"], axes=[1, 3], keepdims=0), 11),
    "ReduceMean-9": (helper.make_node("ReduceMean", ["x"], ["y"], axes=[-1]), 9),
    "Softmax-9-2d": (helper.make_node("Softmax", ["x"], ["y"], axis=2), 9),
    "Upsample-7-nearest": (helper.make_node("Upsample", ["x"], ["y"], scales=[1.0, 1.0, 2.0, 3.0]), 7),
    "Upsample-7-linear": (helper.make_node("Upsample", ["x"], ["y"], mode="linear", scales=[1.0, 1.0, 2.0, 2.0]), 7),
    "Flatten-9": (helper.make_node("Flatten", ["x"], ["y"], axis=2), 9),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_legacy_attribute_forms_match_onnxruntime(case):
    node, opset = CASES[case]
    assert_matches_ort(old(node, opset), {"x": X})


def test_upsample_9_scales_input_and_resize_10():
    scales = np.array([1, 1, 2, 2], np.float32)
    for op_type, opset in (("Upsample", 9), ("Resize", 10)):
        node = helper.make_node(op_type, ["x", "s"], ["y"], mode="nearest")
        assert_matches_ort(old(node, opset, {"s": scales}), {"x": X})


@pytest.mark.parametrize("mode,coordinates", [("nearest", "asymmetric"), ("nearest", "half_pixel"),
                                              ("linear", "half_pixel"), ("linear", "align_corners"),
                                              ("linear", "pytorch_half_pixel")])
def test_resize_13_sizes_and_scales(mode, coordinates):
    for inputs, inits in ((["x", "", "s"], {"s": np.array([1, 1, 1.5, 0.6], np.float32)}),
                          (["x", "", "", "z"], {"z": np.array([2, 3, 7, 3], np.int64)})):
        node = helper.make_node("Resize", inputs, ["y"], mode=mode, coordinate_transformation_mode=coordinates)
        assert_matches_ort(old(node, 13, inits), {"x": X})


def test_split_11_attribute_and_13_input_with_all_outputs():
    for opset, node, inits in (
            (11, helper.make_node("Split", ["x"], ["a", "b"], axis=3, split=[2, 3]), {}),
            (13, helper.make_node("Split", ["x", "s"], ["a", "b"], axis=3), {"s": np.array([4, 1], np.int64)}),
            (18, helper.make_node("Split", ["x"], ["a", "b"], axis=3, num_outputs=2), {})):
        model = old(node, opset, inits)
        model.graph.output.append(helper.make_tensor_value_info("b", 1, None))
        assert_matches_ort(model, {"x": X})


def test_batch_norm_7_spatial_and_dropout_mask():
    c = X.shape[1]
    stats = {n: R.uniform(0.5, 1.5, c).astype(np.float32) for n in ("s", "b", "m", "v")}
    bn = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], spatial=1, epsilon=1e-3)
    assert_matches_ort(old(bn, 7, stats), {"x": X})
    for opset in (7, 10, 12, 13):
        model = old(helper.make_node("Dropout", ["x"], ["y", "mask"]), opset)
        mask_type = onnx.TensorProto.BOOL if opset >= 10 else onnx.TensorProto.FLOAT
        model.graph.output.append(helper.make_tensor_value_info("mask", mask_type, None))
        assert_matches_ort(model, {"x": X}, exact=True)


def test_initializers_listed_among_graph_inputs_are_parameters():
    """Old exporters list every initializer as a graph input too; they are weights, not inputs."""
    w = R.standard_normal((5, 6)).astype(np.float32)
    inputs = [helper.make_tensor_value_info("x", 1, X.shape), helper.make_tensor_value_info("w", 1, w.shape)]
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", inputs,
                              [helper.make_tensor_value_info("y", 1, None)], [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 8)], ir_version=8)
    assert list(ft.from_onnx(model).inputs) == ["x"]
    assert_matches_ort(model, {"x": X})


def test_constants_bind_inputs_that_steer_shapes():
    node = helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"])
    bounds = {"starts": np.array([1]), "ends": np.array([4]), "axes": np.array([3])}
    infos = [helper.make_tensor_value_info("x", 1, X.shape)] + [
        helper.make_tensor_value_info(n, onnx.TensorProto.INT64, [1]) for n in bounds]
    graph = helper.make_graph([node], "g", infos, [helper.make_tensor_value_info("y", 1, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    with pytest.raises(ft.FrontendError, match=r"graph input\(s\) \['starts'\]; bind them with"
                                               r" from_onnx\(\.\.\., constants=\{'starts': array\}\)"):
        ft.from_onnx(model)
    program = ft.from_onnx(model, constants=bounds)
    assert list(program.inputs) == ["x"]
    np.testing.assert_array_equal(ft.evaluate(program, {"x": X})["y"], run_ort(model, {"x": X, **bounds})[0])
    with pytest.raises(ft.FrontendError, match=r"constants=: expected graph input names .* got \['nope'\]"):
        ft.from_onnx(model, constants={"nope": 1})


def test_evaluate_takes_numpy_scalars_as_0d_arrays():
    program = ft.Program({"y": ft.terms.add(ft.terms.var("a", ()), ft.terms.var("b", ()))})
    assert ft.evaluate(program, {"a": np.float32(1.5), "b": np.array(2, np.float32)})["y"] == np.float32(3.5)


@pytest.mark.parametrize("dtype", ["float16", "float64", "int16", "uint16", "uint32", "uint64"])
def test_extra_dtypes_evaluate_and_compile_like_onnxruntime(dtype):
    x = (R.uniform(1, 9, (3, 4))).astype(dtype)
    model = one_node_model(helper.make_node("Add", ["x", "x"], ["y"]), {"x": x}, out_dtype=dtype)
    assert_matches_ort(model, {"x": x}, exact=True)
    got = ft.compile(ft.from_onnx(model), target="llvm").run(x=x)["y"]
    np.testing.assert_array_equal(got, run_ort(model, {"x": x})[0])


@pytest.mark.parametrize("attrs", [dict(pads=[1, 2], strides=[2]), dict(dilations=[2], group=2),
                                   dict(auto_pad="SAME_UPPER", strides=[3])], ids=["pads", "dilated-grouped", "same"])
def test_conv_1d_is_a_conv2d_of_height_1(attrs):
    x = R.standard_normal((2, 4, 11)).astype(np.float32)
    w = R.standard_normal((6, 4 // attrs.get("group", 1), 3)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs)
    model = one_node_model(node, {"x": x}, initializers={"w": w, "b": R.standard_normal(6).astype(np.float32)})
    assert_matches_ort(model, {"x": x})
    got = ft.compile(ft.from_onnx(model), target="llvm").run(x=x)["y"]
    np.testing.assert_allclose(got, run_ort(model, {"x": x})[0], rtol=1e-4, atol=1e-4)
