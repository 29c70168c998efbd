"""Bit-exact encoding: field positions from the spec, and round trips for every kind."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.encode import (
    decode, decode_stream, decode_uop, encode, encode_stream, encode_uop, layout)
from frittata.backends.vta.hw.errors import EncodingError
from frittata.backends.vta.hw.isa import (
    Alu, AluOp, Deps, Finish, Gemm, Load, MemType, Opcode, Store, Uop)

CONFIGS = [VtaConfig(), VtaConfig(log_block=5), VtaConfig(log_batch=2)]

deps = st.builds(Deps, st.booleans(), st.booleans(), st.booleans(), st.booleans())


def bits(n):
    return st.integers(0, (1 << n) - 1)


def loads(cfg):
    return st.builds(Load, st.sampled_from(MemType), bits(16), bits(32), bits(16), bits(16),
                     bits(16), bits(4), bits(4), bits(4), bits(4), deps)


def stores(cfg):
    return st.builds(Store, bits(16), bits(32), bits(16), bits(16), bits(16), deps)


def gemms(cfg):
    u, a, i, w = cfg.log_uop_depth, cfg.log_acc_depth, cfg.log_inp_depth, cfg.log_wgt_depth
    return st.builds(Gemm, bits(u), bits(u + 1), bits(14), bits(14), bits(a), bits(a),
                     bits(i), bits(i), bits(w), bits(w), st.booleans(), deps)


def alus(cfg):
    u, a = cfg.log_uop_depth, cfg.log_acc_depth
    return st.builds(Alu, st.sampled_from(AluOp), bits(u), bits(u + 1), bits(14), bits(14),
                     bits(a), bits(a), bits(a), bits(a), st.booleans(),
                     st.integers(-(1 << 15), (1 << 15) - 1), st.booleans(), deps)


def instructions(cfg):
    return st.one_of(loads(cfg), stores(cfg), gemms(cfg), alus(cfg), st.builds(Finish, deps))


@pytest.mark.parametrize("kind", [loads, stores, gemms, alus])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
@given(data=st.data())
def test_decode_inverts_encode(kind, cfg, data):
    insn = data.draw(kind(cfg))
    word = encode(insn, cfg)
    assert 0 <= word < 1 << 128
    assert decode(word, cfg) == insn


@given(d=deps)
def test_finish_round_trips(d):
    assert decode(encode(Finish(d), VtaConfig()), VtaConfig()) == Finish(d)


@given(st.lists(instructions(VtaConfig()), max_size=8))
def test_streams_round_trip_through_bytes(insns):
    cfg = VtaConfig()
    image = encode_stream(tuple(insns), cfg)
    assert len(image) == 16 * len(insns)
    assert decode_stream(image, cfg) == tuple(insns)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.name)
@given(data=st.data())
def test_uops_round_trip(cfg, data):
    src_width = max(cfg.log_acc_depth, cfg.log_inp_depth)
    uop = data.draw(st.builds(Uop, bits(cfg.log_acc_depth), bits(src_width),
                              bits(cfg.log_wgt_depth)))
    word = encode_uop(uop, cfg)
    assert 0 <= word < 1 << 32
    assert decode_uop(word, cfg) == uop


def test_field_positions_match_hw_spec():
    cfg = VtaConfig()
    gemm = {name: (offset, width) for name, offset, width in layout(Opcode.GEMM, cfg)}
    assert gemm["uop_bgn"] == (8, 13) and gemm["uop_end"] == (21, 14)
    assert gemm["dst_factor_out"] == (64, 11) and gemm["wgt_factor_in"] == (118, 10)
    alu = {name: (offset, width) for name, offset, width in layout(Opcode.ALU, cfg)}
    assert alu["op"] == (108, 3) and alu["use_imm"] == (111, 1) and alu["imm"] == (112, 16)
    mem = {name: (offset, width) for name, offset, width in layout(Opcode.LOAD, cfg)}
    assert mem["dram_base"] == (26, 32) and mem["y_size"] == (64, 16)
    assert mem["x_pad1"] == (124, 4)


def test_a_known_word():
    word = encode(Load(MemType.INP, 3, 5, 1, 2, 2, deps=Deps(push_next=True)), VtaConfig())
    assert word == (0 | 1 << 6 | 2 << 7 | 3 << 10 | 5 << 26 | 1 << 64 | 2 << 80 | 2 << 96)
    assert encode_uop(Uop(1, 2, 3), VtaConfig()) == 1 | 2 << 11 | 3 << 22


@pytest.mark.parametrize("insn, field", [
    (Gemm(0, 1, dst_factor_out=2048), "dst_factor_out"),
    (Alu(AluOp.ADD, 0, 1, use_imm=True, imm=1 << 15), "imm"),
    (Alu(AluOp.ADD, 0, 1, use_imm=True, imm=-(1 << 15) - 1), "imm"),
    (Load(MemType.INP, 0, 0, 1, 1, 1, x_pad0=16), "x_pad0"),
    (Gemm(0, 1, iter_in=1 << 14), "iter_in"),
])
def test_out_of_range_fields_are_rejected(insn, field):
    with pytest.raises(EncodingError, match=field):
        encode(insn, VtaConfig())


@pytest.mark.parametrize("word, what", [
    (5, "opcode"),
    (1 | 2 << 7, "STORE from OUT"),
    (0 | 7 << 7, "memory type"),
    (4 | 7 << 108, "ALU opcode"),
    (3 | 1 << 100, "unused bits"),
    (1 << 128, "128-bit"),
])
def test_malformed_words_do_not_decode(word, what):
    with pytest.raises(EncodingError, match=what):
        decode(word, VtaConfig())
