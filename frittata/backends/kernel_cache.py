"""Persistent caches on disk, shared by every compile on this machine: compiled kernel units,
and (for `frittata.compile_cache`) whole compiles.

A kernel entry is the optimized IR and object code of one unit, filed under a key that hashes
the unit's IR text, the target CPU and features, the optimization level and the versions of
frittata, llvmlite and LLVM, so a kernel is compiled once per machine and compiler. Every entry
file has the same frame:

    <root>/<kind>/<key[:2]>/<key>.fkc:  magic b"FRTKCACH" | key (32 bytes) | sha256 of body | body
    kernel body:                         u64 n | n bytes name | u64 m | m bytes IR | object code

The root is `$FRITTATA_CACHE_DIR`, else `$XDG_CACHE_HOME/frittata`, else `~/.cache/frittata`;
`FRITTATA_CACHE=0` turns the caches off. A corrupted or foreign entry (bad magic, another key,
checksum mismatch) is never loaded: it is reported with a warning and rebuilt. Entries are
written to a temporary file and renamed into place, so concurrent compiles never see half an
entry and both succeed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import struct
import tempfile
import warnings
from functools import cache
from pathlib import Path

import llvmlite
from llvmlite import binding as llvm

from frittata.backends.fileformat import read_aligned
from frittata.backends.jit import Machine, Unit
from frittata.errors import ModuleFormatError

MAGIC = b"FRTKCACH"
HEAD = len(MAGIC) + 64
"""Bytes of an entry's frame before its body: magic, key and checksum."""
LENGTH = struct.Struct("<Q")
SUFFIX = ".fkc"
KINDS = ("kernels", "compiles")


class CacheWarning(UserWarning):
    """A cache entry was unreadable (and is being rebuilt) or could not be written."""


def cache_root() -> Path | None:
    """Where the caches live, or None when `FRITTATA_CACHE=0` turns them off."""
    if os.environ.get("FRITTATA_CACHE", "1").strip() == "0":
        return None
    if os.environ.get("FRITTATA_CACHE_DIR"):
        return Path(os.environ["FRITTATA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "frittata"


def default_cache(kind: str = "kernels") -> EntryCache | None:
    root = cache_root()
    return None if root is None else EntryCache(root, kind)


@cache
def compiler_version() -> str:
    return (f"frittata {importlib.metadata.version('frittata')} llvmlite {llvmlite.__version__} "
            f"llvm {llvm.llvm_version_info}")


def kernel_key(text: str, target: Machine, speed: int) -> str:
    parts = [text, target.triple, target.cpu, target.features, str(speed), compiler_version()]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class EntryCache:
    """Entries of one kind by key (see the module doc); `read` and `write` never raise on a bad
    entry or an unwritable directory, they warn."""

    def __init__(self, root: Path, kind: str = "kernels") -> None:
        self.root = Path(root)
        self.folder = self.root / kind

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}{SUFFIX}"

    def read(self, key: str) -> memoryview | None:
        """The body filed under `key`, or None (missing, or unreadable: then a CacheWarning).
        The file is read into an ALIGN-aligned buffer and the body is a view of it, uncopied:
        the body's byte `i` lies at an address `HEAD + i` past a multiple of ALIGN."""
        path = self.path(key)
        try:
            data = read_aligned(path)
        except (OSError, ModuleFormatError):
            return None
        body = _unframe(data, key)
        if body is None:
            warnings.warn(f"cache: {path} is corrupted or foreign (expected an entry for key "
                          f"{key[:16]}...); rebuilding it", CacheWarning, stacklevel=3)
        return body

    def write(self, key: str, *body: bytes) -> None:
        """File the concatenation of the `body` parts under `key`: a temporary file renamed into
        place (atomic). The parts are hashed and written one after the other, never joined."""
        path = self.path(key)
        digest = hashlib.sha256()
        for part in body:
            digest.update(part)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=SUFFIX)
            with os.fdopen(fd, "wb") as out:
                for part in (MAGIC, bytes.fromhex(key), digest.digest(), *body):
                    out.write(part)
            os.replace(tmp, path)
        except OSError as error:
            warnings.warn(f"cache: could not write {path}: {error}", CacheWarning, stacklevel=3)

    def get(self, key: str) -> Unit | None:
        """The kernel unit filed under `key`, or None."""
        body = self.read(key)
        unit = None if body is None else _unit(bytes(body))
        if body is not None and unit is None:
            warnings.warn(f"cache: {self.path(key)} holds no kernel unit; rebuilding it", CacheWarning, stacklevel=2)
        return unit

    def put(self, key: str, unit: Unit) -> None:
        name, text = unit.name.encode(), unit.ir.encode()
        self.write(key, b"".join([LENGTH.pack(len(name)), name, LENGTH.pack(len(text)), text, unit.obj]))

    def entries(self) -> list[Path]:
        return sorted(self.folder.glob(f"*/*{SUFFIX}"))

    def info(self) -> dict:
        files = self.entries()
        return {"path": str(self.folder), "entries": len(files), "bytes": sum(f.stat().st_size for f in files)}

    def clear(self) -> int:
        """Delete every entry (and stray temporary files); returns how many entries there were."""
        files = self.entries()
        for stale in [*files, *self.folder.glob(f"*/.tmp-*{SUFFIX}")]:
            stale.unlink(missing_ok=True)
        return len(files)


def _unframe(data: memoryview, key: str) -> memoryview | None:
    if len(data) < HEAD or data[:len(MAGIC)] != MAGIC or data[len(MAGIC):len(MAGIC) + 32] != bytes.fromhex(key):
        return None
    body = data[HEAD:]
    return body if hashlib.sha256(body).digest() == data[len(MAGIC) + 32:HEAD] else None


def _unit(body: bytes) -> Unit | None:
    try:
        (n,) = LENGTH.unpack_from(body, 0)
        name = body[8:8 + n].decode()
        (m,) = LENGTH.unpack_from(body, 8 + n)
        text = body[16 + n:16 + n + m].decode()
    except (struct.error, UnicodeDecodeError):
        return None
    obj = body[16 + n + m:]
    return Unit(name, text, obj) if obj else None
