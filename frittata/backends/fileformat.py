"""The single-file format of a saved module (`.ftm`), and its integrity checks.

    offset 0   magic     b"FRITTATA"
           8   version   u32 little-endian (FORMAT_VERSION)
          12   length    u64, bytes of the payload
          20   sha256    32 bytes, of the payload
          52   payload:  u64 n | n bytes of JSON metadata | blob bytes

The metadata names the signature, the named byte sections (LLVM IR, object code, instruction
streams: name, offset and size in the blob) and the parameters (dtype, shape, offset), the arena
size, the CPU the code was built for, and the compile report. Each parameter is stored once;
one a kernel derived from the model's weights (`packing`: Winograd-transformed filters, four
times their bytes) is stored as those weights, with the recipe (`"derive"`) that makes it again
when the file is read, so a file holds about the model's parameter bytes.
The metadata is padded with spaces so that the blob starts at a multiple of ALIGN bytes in the
file, and every item starts at a multiple of ALIGN in the blob: a file read into an aligned
buffer (`read_aligned`) gives parameters that native code can use where they lie, uncopied.
Version 1 files (one LLVM IR text between the metadata and the parameters) are still read; their
IR becomes the section "module.ll"; version 2 files are version 3 files without derived
parameters. Any mismatch (magic, version, length, checksum, metadata)
raises `ModuleFormatError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from frittata.backends.packing import ALIGN, Derivation, derive
from frittata.errors import ModuleFormatError

MAGIC = b"FRITTATA"
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
HEADER = struct.Struct("<8sIQ32s")
LENGTH = struct.Struct("<Q")


@dataclass
class Saved:
    """Everything a module needs to run, without the compiler: metadata, named byte sections
    (code) and named parameter arrays."""

    meta: dict
    sections: dict[str, bytes] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    derived: dict[str, Derivation] = field(default_factory=dict)
    """How the params named here are made from the weights the file stores in their place."""


def encode(saved: Saved) -> bytes:
    blobs: list[bytes] = []
    offset = 0

    def place(data: bytes) -> int:
        nonlocal offset
        padding = -offset % ALIGN
        blobs.extend([bytes(padding), data])
        at, offset = offset + padding, offset + padding + len(data)
        return at

    sections = [{"name": n, "offset": place(data), "size": len(data)} for n, data in saved.sections.items()]
    specs = [_spec(n, a, saved.derived.get(n), place) for n, a in saved.params.items()]
    meta = json.dumps(dict(saved.meta, sections=sections, params=specs), default=str).encode()
    meta += b" " * (-(HEADER.size + LENGTH.size + len(meta)) % ALIGN)
    payload = b"".join([LENGTH.pack(len(meta)), meta] + blobs)
    return HEADER.pack(MAGIC, FORMAT_VERSION, len(payload), hashlib.sha256(payload).digest()) + payload


def _spec(name: str, array: np.ndarray, derivation: Derivation | None, place) -> dict:
    """A parameter's entry in the metadata; a derived one's bytes are its source's."""
    spec = {"name": name, "dtype": array.dtype.name, "shape": list(array.shape)}
    if derivation is None:
        return spec | {"offset": place(np.ascontiguousarray(array).tobytes())}
    source = derivation.source
    return spec | {"offset": place(np.ascontiguousarray(source).tobytes()),
                   "derive": {"recipe": derivation.recipe, "args": derivation.args,
                              "dtype": source.dtype.name, "shape": list(source.shape)}}


def read_aligned(path: str | Path) -> memoryview:
    """The bytes of the file at `path` in an ALIGN-aligned buffer."""
    size = os.path.getsize(path)
    raw = np.empty(size + ALIGN, np.uint8)
    start = -raw.ctypes.data % ALIGN
    buffer = raw[start:start + size].data
    with open(path, "rb") as file:
        if file.readinto(buffer) != size:
            raise ModuleFormatError(f"{path}: expected {size} bytes, the file changed while being read")
    return buffer


def decode(data: bytes | memoryview, where: str, checked: bool = False) -> Saved:
    """The module in `data` (bytes, or a buffer from `read_aligned`; parameters are views of it,
    derived ones are made again). `checked` says the caller has already verified a checksum
    covering all of `data` (a cache entry's frame does), so its own sha256 is not computed
    again (0.1 s per 100 MB)."""
    if len(data) < HEADER.size:
        raise ModuleFormatError(f"{where}: expected a frittata module of at least {HEADER.size} bytes, got {len(data)}")
    data = memoryview(data).cast("B")
    magic, version, length, digest = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ModuleFormatError(f"{where}: expected magic {MAGIC!r}, got {magic!r} (not a frittata module)")
    if version not in READABLE_VERSIONS:
        raise ModuleFormatError(f"{where}: expected format version {FORMAT_VERSION}, got {version}")
    payload = data[HEADER.size:]
    if len(payload) != length:
        raise ModuleFormatError(f"{where}: expected a payload of {length} bytes, got {len(payload)} (truncated?)")
    if not checked and hashlib.sha256(payload).digest() != digest:
        raise ModuleFormatError(f"{where}: checksum mismatch, the file was altered or corrupted")
    try:
        return _parse_v1(payload) if version == 1 else _parse(payload)
    except (ValueError, KeyError, TypeError, struct.error) as error:
        raise ModuleFormatError(f"{where}: expected well-formed metadata, got {error!r}") from None


def _parse(payload: memoryview) -> Saved:
    (n,) = LENGTH.unpack_from(payload, 0)
    meta = json.loads(bytes(payload[8:8 + n]).decode())
    blob = payload[8 + n:]
    sections = {s["name"]: _cut(blob, s["offset"], s["size"]) for s in meta.pop("sections")}
    specs = meta.pop("params")
    derived = {s["name"]: _derivation(blob, s) for s in specs if "derive" in s}
    return Saved(meta, sections, _params(blob, specs, derived), derived)


def _parse_v1(payload: memoryview) -> Saved:
    (n,) = LENGTH.unpack_from(payload, 0)
    meta = json.loads(bytes(payload[8:8 + n]).decode())
    (m,) = LENGTH.unpack_from(payload, 8 + n)
    start = 16 + n
    return Saved(meta, {"module.ll": bytes(payload[start:start + m])}, _params(payload[start + m:], meta.pop("params")))


def _cut(blob: memoryview, offset: int, size: int) -> bytes:
    if offset < 0 or size < 0 or offset + size > len(blob):
        raise ValueError(f"section [{offset}, {offset + size}) outside the {len(blob)} blob bytes")
    return bytes(blob[offset:offset + size])


def _params(blob: memoryview, specs: list[dict], derived: dict[str, Derivation] | None = None) -> dict[str, np.ndarray]:
    """Each parameter: a view of the blob, or made by its recipe (then checked against the
    dtype and shape the metadata records, since kernels will read it unchecked). The recipes
    run on every core (numpy's loops release the GIL), the largest first: this is load-time
    work, decoded before any thread count is known, and a recipe's arguments are a kernel's
    layout (tile, panel width, padding), never a thread count, so a module loaded for any
    number of threads runs on the same derived parameters."""
    derived = derived or {}
    made = _derive_all(derived)
    params = {}
    for spec in specs:
        dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
        if spec["name"] in derived:
            array = made[spec["name"]]
            if array.dtype != dtype or array.shape != shape:
                raise ValueError(f"parameter {spec['name']}: recipe {derived[spec['name']].recipe} made "
                                 f"{array.dtype}{list(array.shape)}, the file records {dtype}{list(shape)}")
            params[spec["name"]] = array
            continue
        params[spec["name"]] = _view(blob, dtype, shape, spec["offset"])
    return params


def _derive_all(derived: dict[str, Derivation]) -> dict[str, np.ndarray]:
    workers = min(len(derived), os.cpu_count() or 1)
    if workers < 2:
        return {name: derive(d.recipe, d.source, d.args) for name, d in derived.items()}
    largest_first = sorted(derived, key=lambda name: -derived[name].source.nbytes)
    with ThreadPoolExecutor(workers) as pool:
        futures = {name: pool.submit(derive, derived[name].recipe, derived[name].source, derived[name].args)
                   for name in largest_first}
        return {name: future.result() for name, future in futures.items()}


def _derivation(blob: memoryview, spec: dict) -> Derivation:
    """The recipe of a derived parameter's entry, with its stored source."""
    recipe = spec["derive"]
    source = _view(blob, np.dtype(recipe["dtype"]), tuple(recipe["shape"]), spec["offset"])
    return Derivation(recipe["recipe"], {k: int(v) for k, v in recipe["args"].items()}, source)


def _view(blob: memoryview, dtype: np.dtype, shape: tuple[int, ...], offset: int) -> np.ndarray:
    count = int(np.prod(shape, dtype=np.int64))
    return np.frombuffer(blob, dtype=dtype, count=count, offset=offset).reshape(shape)
