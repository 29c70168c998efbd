"""`repr` of a DAG: a shared sub-term is bound once with `:=` and named afterwards."""

from frittata import terms as T


def test_a_shared_sub_term_prints_once_and_by_name_after():
    x = T.var("x", (4,))
    shared = T.relu(x)
    term = T.add(T.mul(shared, shared), shared)
    text = repr(term)
    assert text == "add(mul((_t0 := relu(var('x', (4,), 'float32'))), _t0), _t0)"
    assert eval(text, vars(T)) is term
