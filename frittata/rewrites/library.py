"""Finding rules: the library shipped in `rules/*.rules`, user files and strings, disabling.

A rule source is a path to a `.rules` file, or rule text (anything containing "(rule").
`params` bind the rules' `$parameters` (a target passes its configuration's numbers; files
give defaults with `(parameters ...)`). Disabling takes rule names, source-rule names (every
instance of a template) or family names; an unknown name is an error (typos must not silently
keep a rule on).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from frittata.errors import RewriteError
from frittata.rewrites.rule_format import Rule, parse_rules

Source = str | Path
Params = Mapping[str, object] | None


def library_files() -> list[Path]:
    """The rule files shipped with frittata, one per family, sorted by name."""
    folder = resources.files("frittata.rewrites") / "rules"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".rules"))


def library_families() -> list[str]:
    """Families of the library: one per file, named like the file."""
    return [p.stem for p in library_files()]


def load_file(path: Source, params: Params = None) -> list[Rule]:
    """Rules of one file; the family defaults to the file's stem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise RewriteError(f"rules: expected a readable rule file, got {path} ({err.strerror})") from None
    return parse_rules(text, str(path), family=path.stem, params=params)


def load_source(source: Source, params: Params = None) -> list[Rule]:
    """Rules of a file path or of rule text."""
    if isinstance(source, str) and "(rule" in source:
        return parse_rules(source, "<string>", family="user", params=params)
    return load_file(source, params)


def library_rules(params: Params = None) -> list[Rule]:
    """Every rule of the library, with `$parameters` bound by `params` over the files' defaults."""
    return [r for path in library_files() for r in load_file(path, params)]


def select_rules(sources: Iterable[Source] = (), disable: Iterable[str] = (),
                 library: bool = True, params: Params = None) -> list[Rule]:
    """Library rules (unless `library` is false) plus `sources`, minus the `disable`d ones."""
    rules = (library_rules(params) if library else []) + [r for s in sources for r in load_source(s, params)]
    seen: dict[str, Rule] = {}
    for rule in rules:
        if rule.name in seen:
            raise RewriteError(f"rules: expected unique rule names, got {rule.name!r} at {seen[rule.name].where}"
                               f" and {rule.where}")
        seen[rule.name] = rule
    off = set(disable)
    known = set(seen) | {r.family for r in rules} | {r.source for r in rules}
    unknown = sorted(off - known)
    if unknown:
        raise RewriteError(f"rules: cannot disable {unknown}: expected rule or family names among the loaded rules")
    return [r for r in rules if not off & {r.name, r.source, r.family}]
