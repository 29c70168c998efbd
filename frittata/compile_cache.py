"""A cache of whole compiles: the optimized program and the saved module, by what went in.

The key hashes everything a compile's result depends on: the program (each node's operator,
attributes and operands; parameters by name, shape, dtype and the sha256 of their bytes), the
target's name, the options, the host CPU, and a fingerprint of frittata's own sources and rule
files (so editing the compiler never serves a stale result). A compile given a cost model or
schedule object, or a `Target` value rather than a registered name, is not cached: those are
code, and code has no stable key. Entries live in the `compiles` folder of the kernel cache's
root, with the same frame, atomic writes and rebuild-on-corruption:

    body: u64 n | n bytes: the optimized program (pickled nodes in postorder) | zero padding |
          the .ftm file, starting at a multiple of ALIGN bytes in the entry's file

so an entry read into an aligned buffer gives parameters the module uses where they lie (a
ResNet-18 entry holds 97 MB of them; each copy costs about 0.1 s).
"""

from __future__ import annotations

import hashlib
import pickle
import struct
import warnings
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from frittata.backends import fileformat
from frittata.backends.jit import host
from frittata.backends.kernel_cache import HEAD, CacheWarning, compiler_version, default_cache
from frittata.errors import ModuleFormatError
from frittata.terms.ops import lookup as lookup_op
from frittata.terms.program import Program
from frittata.terms.term import ParamRef, Term

LENGTH = struct.Struct("<Q")
PLAIN = (str, int, float, bool, type(None))


@cache
def source_fingerprint() -> str:
    """sha256 of every source and data file of the installed frittata package."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def compile_key(program: Program, target: str, options: Mapping[str, Any]) -> str | None:
    """The key of compiling `program` for the registered target `target` with `options`, or
    None when an option is not plain data (then the compile is not cached)."""
    if not all(_plain(value) for value in options.values()):
        return None
    digest = hashlib.sha256()
    cpu = host()
    for part in (source_fingerprint(), compiler_version(), target, cpu.cpu, cpu.features, str(cpu.lanes),
                 repr(sorted(options.items()))):
        digest.update(part.encode() + b"\0")
    nodes, outputs, inputs = _flatten(program)
    for op, args, attrs in nodes:
        digest.update(f"{op}{args}{_attrs_key(attrs)}\0".encode())
    digest.update(repr((outputs, inputs)).encode())
    return digest.hexdigest()


def lookup(key: str) -> tuple[Program, fileformat.Saved] | None:
    """The optimized program and saved module filed under `key`, or None. The entry's checksum
    covers the module file, so the file's own is not computed again."""
    store = default_cache("compiles")
    body = store.read(key) if store is not None else None
    if body is None:
        return None
    try:
        (n,) = LENGTH.unpack_from(body, 0)
        program = _unflatten(*pickle.loads(body[8:8 + n]))
        where = str(store.path(key)) if store else key
        return program, fileformat.decode(body[8 + n + _padding(n):], where, checked=True)
    except (ModuleFormatError, pickle.UnpicklingError, struct.error, ValueError, TypeError, KeyError) as error:
        warnings.warn(f"cache: compile entry {key[:16]}... is unreadable ({error}); rebuilding it",
                      CacheWarning, stacklevel=2)
        return None


def store(key: str, program: Program, module_file: bytes) -> None:
    """File the optimized `program` and the saved module's bytes under `key`."""
    cache_ = default_cache("compiles")
    if cache_ is not None:
        flat = pickle.dumps(_flatten(program), protocol=pickle.HIGHEST_PROTOCOL)
        cache_.write(key, LENGTH.pack(len(flat)), flat, bytes(_padding(len(flat))), module_file)


def _padding(n: int) -> int:
    """Zero bytes after an n-byte program so the module file starts ALIGN-aligned in the entry file."""
    return -(HEAD + LENGTH.size + n) % fileformat.ALIGN


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return isinstance(value, PLAIN)


def _attrs_key(attrs: tuple) -> str:
    return repr(tuple((name, _param_key(v) if isinstance(v, ParamRef) else v) for name, v in attrs))


def _param_key(ref: ParamRef) -> str:
    data = ref.data
    return f"param {ref.name} {data.shape} {data.dtype.str} {hashlib.sha256(data.tobytes()).hexdigest()}"


Flat = tuple[list[tuple[str, tuple[int, ...], tuple]], dict[str, int], list[str]]


def _flatten(program: Program) -> Flat:
    """Nodes in postorder as (op name, operand indices, attributes), outputs by index, inputs in order."""
    index: dict[int, int] = {}
    nodes: list[tuple[str, tuple[int, ...], tuple]] = []
    for term in program.terms():
        index[id(term)] = len(nodes)
        nodes.append((term.op.value, tuple(index[id(a)] for a in term.args), term.attrs))
    return nodes, {name: index[id(t)] for name, t in program.outputs.items()}, list(program.inputs)


def _unflatten(nodes: list, outputs: dict[str, int], inputs: list[str]) -> Program:
    terms: list[Term] = []
    for op, args, attrs in nodes:
        terms.append(Term.make(lookup_op(op), tuple(terms[i] for i in args), attrs))
    return Program({name: terms[i] for name, i in outputs.items()}, inputs)
