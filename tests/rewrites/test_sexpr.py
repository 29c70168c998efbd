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


def test_atoms_lists_and_positions_survive_comments_and_newlines():
    top = read('(a [1 -2.5 "s"]\n  ; a comment\n  b) 3 x-y', "f.rules")
    assert [type(t).__name__ for t in top] == ["SList", "Atom", "Atom"]
    outer, three, symbol = top
    assert outer.bracket == "(" and (outer.pos.line, outer.pos.col) == (1, 1)
    a, inner, b = outer.items
    assert (a.value, a.kind) == ("a", "symbol")
    assert inner.bracket == "[" and (inner.pos.line, inner.pos.col) == (1, 4)
    atoms = [(i.value, i.kind, i.pos.col) for i in inner.items]
    assert atoms == [(1, "int", 5), (-2.5, "float", 7), ("s", "string", 12)]
    assert (b.value, b.pos.line, b.pos.col) == ("b", 3, 3)
    assert (three.value, three.kind, three.pos.col) == (3, "int", 6)
    assert (symbol.value, symbol.kind) == ("x-y", "symbol")


@pytest.mark.parametrize("text, message", [
    ("(a ]", "f.rules:1:4: expected ')' to close '(' from line 1, got ']'"),
    ("(a\n [b)", "f.rules:2:4: expected ']' to close '[' from line 2, got ')'"),
    (")", "f.rules:1:1: unexpected ')' with no open bracket"),
    ("(a (b)", "f.rules:1:1: expected a closing bracket for this '(', got end of file"),
    ('(a "b)', "f.rules:1:4: unterminated string literal"),
])
def test_a_bracket_or_string_left_open_or_closed_wrong_says_where(text, message):
    with pytest.raises(RewriteError) as err:
        read(text, "f.rules")
    assert str(err.value) == message
