"""Values over a byte stream: each a pickle framed by its 8-byte little-endian length (what a
measuring worker and its runner exchange over the worker's stdin and stdout)."""

from __future__ import annotations

import pickle
import struct
from typing import BinaryIO

LENGTH = struct.Struct("<Q")
READY = "ready"
"""What a worker sends once it has started, before its first result."""


def send(stream: BinaryIO, value: object) -> None:
    data = pickle.dumps(value)
    stream.write(LENGTH.pack(len(data)) + data)
    stream.flush()


def receive(stream: BinaryIO) -> object:
    """The next framed value; EOFError when the stream ends."""
    head = stream.read(LENGTH.size)
    if len(head) < LENGTH.size:
        raise EOFError
    (size,) = LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)
