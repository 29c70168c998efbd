"""The s-expression reader's string literals: escapes."""

import pytest

from frittata.errors import RewriteError
from frittata.rewrites.sexpr import read


def test_a_string_literal_unescapes_quote_backslash_and_newline():
    (atom,) = read(r'"say \"hi\"\\ok\n"')
    assert atom.kind == "string" and atom.value == 'say "hi"\\ok\n'


def test_an_unknown_escape_is_an_error_with_its_place():
    with pytest.raises(RewriteError, match=r"<string>:1:2: .*expected an escape .* got \\t"):
        read(' "a\\tb"')
