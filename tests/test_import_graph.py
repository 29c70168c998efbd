"""The modules of `frittata` import each other without cycles.

The graph is read from the source with `ast`, so imports inside functions (lazy imports, which
hide a cycle from the interpreter until the function runs) count like the ones at the top of a
module; only imports under `if TYPE_CHECKING:` are left out, since they never run.
`from frittata.a import b` is an edge to `frittata.a.b` when that is a module, else to
`frittata.a`; importing a module also runs its package's `__init__`, but an edge to a package
is only drawn where the source names it.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import frittata

ROOT = Path(frittata.__file__).parent

ALLOWED_CYCLE_MODULES: frozenset[str] = frozenset()
"""Modules whose cycles are tolerated: none (the term core's cycles are gone with the operator
table). Never add one."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The frittata modules `name` (at `path`) imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in runtime_nodes(ast.parse(path.read_text(), str(path))):
        match node:
            case ast.Import(names=aliases):
                found.update(a.name for a in aliases)
            case ast.ImportFrom(module=base, names=aliases, level=level):
                if level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - level + 1] + ([base] if base else []))
                if base is None:
                    continue
                found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in aliases)
    return {m for m in found if m in known and m != name}


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of `tree` except those under `if TYPE_CHECKING:`."""
    nodes, todo = [], [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return nodes


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """Module -> the frittata modules it imports; parsed once per session (four tests read it,
    none changes it)."""
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_lazy_imports():
    graph = import_graph()
    assert "frittata.driver" in graph["frittata"]
    assert "frittata.terms.program" in graph["frittata.driver"]


def test_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycles():
    found = [c for c in cycles(import_graph()) if not set(c) <= ALLOWED_CYCLE_MODULES]
    assert not found, "import cycles in frittata (each line one cycle):\n" + "\n".join(" ".join(c) for c in found)


STAGES = ("terms", "rewrites", "extract", "backends")
"""The pipeline's stages, left to right: a module depends only on stages to its left."""


def test_stages_import_only_stages_to_their_left():
    def stage(module: str) -> int | None:
        parts = module.split(".")
        return STAGES.index(parts[1]) if len(parts) > 1 and parts[1] in STAGES else None

    backwards = [f"{a} -> {b}" for a, deps in import_graph().items() for b in deps
                 if stage(a) is not None and stage(b) is not None and stage(b) > stage(a)]
    assert not backwards, "imports of a later stage:\n" + "\n".join(sorted(backwards))


def test_the_vta_hardware_model_imports_no_compiler():
    hw = "frittata.backends.vta.hw"
    outside = [f"{a} -> {b}" for a, deps in import_graph().items() if a.startswith(hw)
               for b in deps if not b.startswith(hw) and b != "frittata.errors"]
    assert not outside, "the hardware model imports the compiler:\n" + "\n".join(sorted(outside))
