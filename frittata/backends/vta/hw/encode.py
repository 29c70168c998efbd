"""Bit-exact encoding of VTA instructions (128 bits) and micro-ops (32 bits).

Fields are packed like the C bitfields of `hw_spec.h`: in declaration order from bit 0 of two
little-endian 64-bit words, a field that would straddle bit 64 starting at bit 64.  Widths that
depend on buffer depths come from the `VtaConfig`.  Bits no field covers are zero; the decoder
rejects words where they are not, so `encode(decode(w)) == w` for every word that decodes.
"""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache
from typing import Any, assert_never

import numpy as np

from frittata.backends.vta.hw.config import (
    INSN_WIDTH, LOOP_ITER_WIDTH, SRAM_ADDR_WIDTH, VtaConfig)
from frittata.backends.vta.hw.errors import EncodingError
from frittata.backends.vta.hw.isa import (
    Alu, AluOp, Deps, Finish, Gemm, Instruction, Load, MemType, Opcode, Store, Uop, opcode_of)

Layout = tuple[tuple[str, int, int], ...]
"""(field name, bit offset, bit width) triples."""

_HEADER = (("opcode", 3), ("pop_prev", 1), ("pop_next", 1), ("push_prev", 1), ("push_next", 1))
_DEP_NAMES = ("pop_prev", "pop_next", "push_prev", "push_next")
_IMM_WIDTH = 16


def _place(widths: tuple[tuple[str, int], ...]) -> Layout:
    """Assign offsets with the C rule: a field never straddles a 64-bit word boundary."""
    placed, pos = [], 0
    for name, width in widths:
        if pos // 64 != (pos + width - 1) // 64:
            pos = (pos // 64 + 1) * 64
        placed.append((name, pos, width))
        pos += width
    assert pos <= INSN_WIDTH, "VtaConfig validation guarantees every layout fits"
    return tuple(placed)


@lru_cache(maxsize=64)
def layout(opcode: Opcode, cfg: VtaConfig) -> Layout:
    """The field layout of instructions with `opcode` under `cfg`."""
    loop = (("reset", 1), ("uop_bgn", cfg.log_uop_depth), ("uop_end", cfg.log_uop_depth + 1),
            ("iter_out", LOOP_ITER_WIDTH), ("iter_in", LOOP_ITER_WIDTH),
            ("dst_factor_out", cfg.log_acc_depth), ("dst_factor_in", cfg.log_acc_depth))
    body: tuple[tuple[str, int], ...]
    match opcode:
        case Opcode.LOAD | Opcode.STORE:
            body = (("mem", 3), ("sram_base", SRAM_ADDR_WIDTH), ("dram_base", 32),
                    ("y_size", 16), ("x_size", 16), ("x_stride", 16),
                    ("y_pad0", 4), ("y_pad1", 4), ("x_pad0", 4), ("x_pad1", 4))
        case Opcode.GEMM:
            body = loop + (("src_factor_out", cfg.log_inp_depth),
                           ("src_factor_in", cfg.log_inp_depth),
                           ("wgt_factor_out", cfg.log_wgt_depth),
                           ("wgt_factor_in", cfg.log_wgt_depth))
        case Opcode.ALU:
            body = loop + (("src_factor_out", cfg.log_acc_depth),
                           ("src_factor_in", cfg.log_acc_depth),
                           ("op", 3), ("use_imm", 1), ("imm", _IMM_WIDTH))
        case Opcode.FINISH:
            body = ()
        case _:
            assert_never(opcode)
    return _place(_HEADER + body)


def _values(insn: Instruction) -> dict[str, int]:
    """The integer value of every encoded field of `insn` (bools as 0/1, imm signed)."""
    values = {f.name: int(getattr(insn, f.name)) for f in fields(insn) if f.name != "deps"}
    values.update({name: int(getattr(insn.deps, name)) for name in _DEP_NAMES})
    values["opcode"] = opcode_of(insn)
    if isinstance(insn, Store):
        values.update(mem=MemType.OUT, y_pad0=0, y_pad1=0, x_pad0=0, x_pad1=0)
    return values


def encode(insn: Instruction, cfg: VtaConfig) -> int:
    """The 128-bit word of `insn`; raises `EncodingError` naming any field out of range."""
    word, values = 0, _values(insn)
    for name, offset, width in layout(values["opcode"], cfg):
        value = values[name]
        if name == "imm":
            if not -(1 << width - 1) <= value < 1 << width - 1:
                raise EncodingError(f"{insn}: expected a signed {width}-bit imm, got {value}")
            value &= (1 << width) - 1
        elif not 0 <= value < 1 << width:
            raise EncodingError(f"{insn}: field {name} is {width} bits wide under "
                                f"{cfg.name}, expected 0 <= {name} < {1 << width}, got {value}")
        word |= value << offset
    return word


def _fields_of(word: int, lay: Layout) -> dict[str, Any]:
    used = 0
    values = {}
    for name, offset, width in lay:
        mask = (1 << width) - 1
        values[name] = (word >> offset) & mask
        used |= mask << offset
    if word & ~used:
        raise EncodingError(f"word {word:#034x}: expected zero in unused bits, "
                            f"got {word & ~used:#034x}")
    return values


def decode(word: int, cfg: VtaConfig) -> Instruction:
    """The instruction encoded by the 128-bit `word`; raises `EncodingError` if it is not one."""
    if not 0 <= word < 1 << INSN_WIDTH:
        raise EncodingError(f"expected a 128-bit word, got {word:#x}")
    code = word & 7
    if code not in Opcode._value2member_map_:
        raise EncodingError(f"word {word:#034x}: expected an opcode in 0..4, got {code}")
    v = _fields_of(word, layout(Opcode(code), cfg))
    deps = Deps(*(bool(v.pop(name)) for name in _DEP_NAMES))
    v.pop("opcode")
    match Opcode(code):
        case Opcode.LOAD:
            return Load(**{**v, "mem": _enum(MemType, v["mem"], word, "memory type")}, deps=deps)
        case Opcode.STORE:
            return _decode_store(v, word, deps)
        case Opcode.GEMM:
            return Gemm(**{**v, "reset": bool(v["reset"])}, deps=deps)
        case Opcode.ALU:
            imm = v["imm"] - ((v["imm"] >> (_IMM_WIDTH - 1)) << _IMM_WIDTH)
            return Alu(**{**v, "op": _enum(AluOp, v["op"], word, "ALU opcode"),
                          "reset": bool(v["reset"]), "use_imm": bool(v["use_imm"]),
                          "imm": imm}, deps=deps)
        case Opcode.FINISH:
            return Finish(deps=deps)
        case _:
            assert_never(Opcode(code))


def _enum(kind, value: int, word: int, what: str):
    if value not in kind._value2member_map_:
        raise EncodingError(f"word {word:#034x}: expected a {what} in "
                            f"{[m.name for m in kind]}, got {value}")
    return kind(value)


def _decode_store(v: dict[str, int], word: int, deps: Deps) -> Store:
    pads = tuple(v.pop(name) for name in ("y_pad0", "y_pad1", "x_pad0", "x_pad1"))
    mem = v.pop("mem")
    if mem != MemType.OUT or any(pads):
        raise EncodingError(f"word {word:#034x}: expected a STORE from OUT without padding, "
                            f"got memory type {mem} and pads {pads}")
    return Store(**v, deps=deps)


def encode_stream(insns: tuple[Instruction, ...], cfg: VtaConfig) -> bytes:
    """Instructions as the byte image the fetch unit reads (16 little-endian bytes each)."""
    return b"".join(encode(insn, cfg).to_bytes(16, "little") for insn in insns)


def decode_stream(image: bytes, cfg: VtaConfig) -> tuple[Instruction, ...]:
    """The inverse of `encode_stream`."""
    if len(image) % 16:
        raise EncodingError(f"expected a multiple of 16 bytes, got {len(image)}")
    words = (int.from_bytes(image[i:i + 16], "little") for i in range(0, len(image), 16))
    return tuple(decode(word, cfg) for word in words)


@lru_cache(maxsize=64)
def uop_layout(cfg: VtaConfig) -> Layout:
    """dst, src, wgt packed from bit 0 of a 32-bit word."""
    return _place((("dst", cfg.uop_dst_width), ("src", cfg.uop_src_width),
                   ("wgt", cfg.uop_wgt_width)))


def encode_uop(uop: Uop, cfg: VtaConfig) -> int:
    word = 0
    for name, offset, width in uop_layout(cfg):
        value = getattr(uop, name)
        if not 0 <= value < 1 << width:
            raise EncodingError(f"{uop}: field {name} is {width} bits wide under {cfg.name}, "
                                f"expected 0 <= {name} < {1 << width}, got {value}")
        word |= value << offset
    return word


def decode_uop(word: int, cfg: VtaConfig) -> Uop:
    if not 0 <= word < 1 << 32:
        raise EncodingError(f"expected a 32-bit micro-op word, got {word:#x}")
    return Uop(**_fields_of(word, uop_layout(cfg)))


def split_uops(words: np.ndarray, cfg: VtaConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised decode: the (dst, src, wgt) index arrays of an array of uop words."""
    words = words.astype(np.int64)
    dst, src, wgt = ((words >> offset) & ((1 << width) - 1) for _, offset, width in uop_layout(cfg))
    return dst, src, wgt
