"""A saturated e-graph as plain data: rebuilding a choice, and what a bad choice or decoding says."""

import numpy as np
import pytest

import frittata.terms as T
from frittata.errors import ExtractionError
from frittata.rewrites.data import EClass, EGraphData, ENode, build_data
from frittata.terms.dtypes import TensorType
from frittata.terms.ops import Op

X = T.var("x", (2, 3))
F32 = TensorType((2, 3), "float32")


def relu_graph() -> EGraphData:
    """x; relu(x) == relu(relu(x)) in one class (relu is idempotent), so choosing the second is a cycle."""
    nodes = (ENode(Op.INPUT, X.attrs, (), 0), ENode(Op.RELU, (), (0,), 1), ENode(Op.RELU, (), (1,), 1))
    classes = (EClass(F32, (0,)), EClass(F32, (1, 2)))
    return EGraphData(nodes, classes, {"y": 1}, {}, {0: 0, 1: 1}, ("x",))


def test_a_choice_rebuilds_its_program():
    program = relu_graph().to_program({0: 0, 1: 1})
    assert program.outputs["y"] is T.relu(X) and list(program.inputs) == ["x"]


@pytest.mark.parametrize("choice, message", [
    ({0: 0, 1: 2}, "to_term: expected an acyclic choice, got a cycle through e-class 1"),
    ({1: 1}, "to_term: expected a choice for e-class 0, got none"),
    ({0: 1, 1: 1}, "to_term: e-node 1 is not in e-class 0"),
])
def test_a_bad_choice_says_what_is_wrong_with_it(choice, message):
    with pytest.raises(ExtractionError, match=message):
        relu_graph().to_program(choice)


def test_decoded_classes_are_numbered_densely_and_the_program_is_the_original_choice():
    w = np.ones((2, 3), np.float32)
    program = T.Program({"y": T.add(X, T.param("w", w))})
    enodes = [("c-x", "input", X.attrs, []), ("c-w", "param", (("name", "w"),), []),
              ("c-y", "add", (), ["c-x", "c-w"]), ("c-y", "add", (), ["c-w", "c-x"])]
    types = {c: ((2, 3), "float32") for c in ("c-x", "c-w", "c-y")}
    data = build_data((enodes, types), program, {"w": w})
    assert [n.eclass for n in data.nodes] == [0, 1, 2, 2] and data.classes[2].nodes == (2, 3)
    assert data.roots == {"y": 2} and data.original == {0: 0, 1: 1, 2: 2}
    assert data.to_program(data.original).outputs["y"] is program.outputs["y"]
    swapped = data.to_program({**data.original, 2: 3}).outputs["y"]
    assert swapped.op == Op.ADD and swapped.args[0].op == Op.PARAM and swapped.args[1] is X
    with pytest.raises(ExtractionError, match=r"e-graph decoding: e-class c-w has no type \(analysis not saturated\)"):
        build_data((enodes, {"c-x": ((2, 3), "float32"), "c-y": ((2, 3), "float32")}), program, {"w": w})
    with pytest.raises(ExtractionError, match="e-graph decoding: the program's add node is missing"):
        build_data((enodes[:2] + enodes[3:], types), program, {"w": w})


def test_the_smallest_choice_is_found_whatever_the_order_of_the_e_nodes():
    """neg(relu(x)) == x in one class: the smallest tree of that class is x alone, found by the
    fixed point in any order of the e-nodes (a parent listed before its children too)."""
    import itertools

    from frittata.rewrites.extractors import smallest_choice

    made = [(Op.INPUT, X.attrs, (), 0), (Op.RELU, (), (0,), 1), (Op.NEG, (), (1,), 0), (Op.NEG, (), (0,), 2)]
    for order in itertools.permutations(range(4)):
        nodes = tuple(ENode(*made[i]) for i in order)
        classes = tuple(EClass(F32, tuple(k for k, n in enumerate(nodes) if n.eclass == c)) for c in range(3))
        data = EGraphData(nodes, classes, {"y": 2}, {}, {}, ("x",))
        choice = smallest_choice(data)
        assert data.to_program(choice).outputs["y"] is T.neg(X), order
        assert nodes[choice[1]].op == Op.RELU
