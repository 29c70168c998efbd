"""A small s-expression reader with positions, for rule files.

Syntax: `( ... )` lists, `[ ... ]` tuples, atoms (symbols, integers, floats, "strings" with
backslash escapes), and `;` comments to the end of the line. Every item records its line and
column, so errors point at the text. Errors raise `RewriteError("FILE:LINE:COL: reason")`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from frittata.errors import RewriteError

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r]+) | (?P<newline>\n) | (?P<comment>;[^\n]*)
  | (?P<open>[(\[]) | (?P<close>[)\]])
  | (?P<string>"(?:[^"\\\n]|\\.)*") | (?P<badstring>"[^\n]*)
  | (?P<atom>[^\s()\[\];"]+)
""", re.VERBOSE)
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?|[+-]?inf")


@dataclass(frozen=True, slots=True)
class Pos:
    """Where an item starts: file name, 1-based line and column."""

    file: str
    line: int
    col: int

    def error(self, reason: str) -> RewriteError:
        return RewriteError(f"{self.file}:{self.line}:{self.col}: {reason}")


@dataclass(frozen=True, slots=True)
class Atom:
    """A symbol (`kind` "symbol"), an int, a float or a string literal."""

    value: Any  # a str for symbols and strings
    kind: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class SList:
    """A parenthesized list (`bracket` "(") or a bracketed tuple (`bracket` "[")."""

    items: tuple
    bracket: str
    pos: Pos


SExpr = Atom | SList


def symbol(item: SExpr | None) -> str:
    """The text of a symbol atom; "" for anything else (no symbol is empty)."""
    return str(item.value) if isinstance(item, Atom) and item.kind == "symbol" else ""


def read(text: str, file: str = "<string>") -> list[SExpr]:
    """All top-level s-expressions of `text`."""
    stack: list[tuple[str, Pos, list]] = [("", Pos(file, 1, 1), [])]
    line, line_start = 1, 0
    for match in _TOKEN.finditer(text):
        kind, value = match.lastgroup, match.group()
        pos = Pos(file, line, match.start() - line_start + 1)
        match kind:
            case "newline":
                line, line_start = line + 1, match.end()
            case "space" | "comment":
                pass
            case "open":
                stack.append((value, pos, []))
            case "close":
                _close(stack, value, pos)
            case "string":
                stack[-1][2].append(Atom(_unescape(value, pos), "string", pos))
            case "badstring":
                raise pos.error("unterminated string literal")
            case "atom":
                stack[-1][2].append(_atom(value, pos))
    _check_gaps(text, file)
    if len(stack) > 1:
        raise stack[-1][1].error(f"expected a closing bracket for this {stack[-1][0]!r}, got end of file")
    return stack[0][2]


def _close(stack: list, bracket: str, pos: Pos) -> None:
    if len(stack) == 1:
        raise pos.error(f"unexpected {bracket!r} with no open bracket")
    opener, start, items = stack.pop()
    expected = ")" if opener == "(" else "]"
    if bracket != expected:
        raise pos.error(f"expected {expected!r} to close {opener!r} from line {start.line}, got {bracket!r}")
    stack[-1][2].append(SList(tuple(items), opener, start))


def _atom(text: str, pos: Pos) -> Atom:
    if _INT.fullmatch(text):
        return Atom(int(text), "int", pos)
    if _FLOAT.fullmatch(text):
        return Atom(float(text), "float", pos)
    return Atom(text, "symbol", pos)


def _unescape(text: str, pos: Pos) -> str:
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\":
            nxt = body[i + 1]
            if nxt not in '"\\n':
                raise pos.error(f"expected an escape \\\" \\\\ or \\n in string, got \\{nxt}")
            out.append("\n" if nxt == "n" else nxt)
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def _check_gaps(text: str, file: str) -> None:
    """Every character must belong to some token (the regex skips nothing silently)."""
    covered = sum(len(m.group()) for m in _TOKEN.finditer(text))
    if covered != len(text):
        raise RewriteError(f"{file}: unreadable characters in rule text")
