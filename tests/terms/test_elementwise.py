"""Binary elementwise ops refuse operands of a dtype they do not take, naming the op, what they
take and the dtype they got."""

import pytest

from frittata import terms as T
from frittata.errors import FrittataTypeError


@pytest.mark.parametrize("build, dtype, message", [
    (T.add, "bool", "add: expected numeric operands, got bool"),
    (T.minimum, "bool", "minimum: expected numeric operands, got bool"),
    (T.pow, "int32", "pow: expected float operands, got int32"),
], ids=["add", "minimum", "pow"])
def test_a_binary_op_names_the_dtype_it_refuses(build, dtype, message):
    with pytest.raises(FrittataTypeError) as error:
        build(T.var("a", (2, 3), dtype), T.var("b", (3,), dtype))
    assert str(error.value) == message
