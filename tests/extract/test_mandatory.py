"""The classes every extraction needs (`mandatory.needed_by_roots`), which the ILP fixes."""

from frittata.extract.cost import as_cost_model
from frittata.extract.mandatory import needed_by_roots
from frittata.extract.problem import build_problem
from frittata.rewrites.data import EClass, EGraphData, ENode
from frittata.terms.ops import Op
from tests.extract.egraphs import SCALAR, attr_cost


def test_each_roots_needed_classes_count_not_only_the_last_roots():
    """Two outputs: `a` = add(add(x)) needs x and its inner add; `b` has two e-nodes, one on x
    and one on y, so it needs neither leaf. Every class either output needs is in the set."""
    kids = [(), (0,), (1,), (), (3,), (0,)]  # e-nodes 0..5; e-node 5 is b's second one
    eclass = [0, 1, 2, 3, 4, 4]
    nodes = tuple(ENode(Op.ADD if k else Op.INPUT, (("cost", 1.0),), k, c) for k, c in zip(kids, eclass))
    classes = tuple(EClass(SCALAR, tuple(i for i, c in enumerate(eclass) if c == cls)) for cls in range(5))
    data = EGraphData(nodes, classes, {"a": 2, "b": 4}, {}, {})
    problem = build_problem(data, as_cost_model(attr_cost))
    assert needed_by_roots(problem, list(range(5))) == {0, 1, 2, 4}
