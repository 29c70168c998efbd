"""The single-file format of a saved module (`.ftm`), and its integrity checks.

    offset 0   magic     b"FRITTATA"
           8   version   u32 little-endian (FORMAT_VERSION)
          12   length    u64, bytes of the payload
          20   sha256    32 bytes, of the payload
          52   payload:  u64 n | n bytes of JSON metadata | u64 m | m bytes of LLVM IR | parameter bytes

The metadata names the signature, the parameters (dtype, shape, offset into the parameter
bytes), the arena size, the CPU features the IR was optimized for, and the compile report.
Any mismatch (magic, version, length, checksum, metadata) raises `ModuleFormatError`.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass

import numpy as np

from frittata.errors import ModuleFormatError

MAGIC = b"FRITTATA"
FORMAT_VERSION = 1
HEADER = struct.Struct("<8sIQ32s")


@dataclass
class Saved:
    """Everything a module needs to run, without the compiler."""

    meta: dict
    ir_text: str
    params: dict[str, np.ndarray]


def encode(saved: Saved) -> bytes:
    blobs, specs, offset = [], [], 0
    for name, array in saved.params.items():
        data = np.ascontiguousarray(array).tobytes()
        specs.append({"name": name, "dtype": array.dtype.name, "shape": list(array.shape), "offset": offset})
        blobs.append(data)
        offset += len(data)
    meta = json.dumps(dict(saved.meta, params=specs), default=str).encode()
    text = saved.ir_text.encode()
    payload = b"".join([struct.pack("<Q", len(meta)), meta, struct.pack("<Q", len(text)), text] + blobs)
    return HEADER.pack(MAGIC, FORMAT_VERSION, len(payload), hashlib.sha256(payload).digest()) + payload


def decode(data: bytes, where: str) -> Saved:
    if len(data) < HEADER.size:
        raise ModuleFormatError(f"{where}: expected a frittata module of at least {HEADER.size} bytes, got {len(data)}")
    magic, version, length, digest = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ModuleFormatError(f"{where}: expected magic {MAGIC!r}, got {magic!r} (not a frittata module)")
    if version != FORMAT_VERSION:
        raise ModuleFormatError(f"{where}: expected format version {FORMAT_VERSION}, got {version}")
    payload = data[HEADER.size:]
    if len(payload) != length:
        raise ModuleFormatError(f"{where}: expected a payload of {length} bytes, got {len(payload)} (truncated?)")
    if hashlib.sha256(payload).digest() != digest:
        raise ModuleFormatError(f"{where}: checksum mismatch, the file was altered or corrupted")
    try:
        return _parse(payload)
    except (ValueError, KeyError, TypeError, struct.error) as error:
        raise ModuleFormatError(f"{where}: expected well-formed metadata, got {error!r}") from None


def _parse(payload: bytes) -> Saved:
    (n,) = struct.unpack_from("<Q", payload, 0)
    meta = json.loads(payload[8:8 + n].decode())
    (m,) = struct.unpack_from("<Q", payload, 8 + n)
    start = 16 + n
    ir_text = payload[start:start + m].decode()
    blob = payload[start + m:]
    params = {}
    for spec in meta.pop("params"):
        dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        array = np.frombuffer(blob, dtype=dtype, count=count, offset=spec["offset"]).reshape(shape)
        params[spec["name"]] = array
    return Saved(meta, ir_text, params)
