"""The FPGA resource and timing model: monotone in every knob, TVM's shipped designs fit their
boards at their clocks, and a design that does not fit is refused naming the resource."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.config_file import load_config
from frittata.backends.vta.hw.errors import ConfigError, ResourceError
from frittata.backends.vta.hw.resources import (
    bram18_blocks, check_fits, estimate, get_part, overflows, parts)

KNOBS = {"log_batch": 2, "log_block": 5, "log_uop_buff_size": 16, "log_inp_buff_size": 16,
         "log_wgt_buff_size": 19, "log_acc_buff_size": 17, "log_bus_width": 8, "gemm_stages": 4}
"""Each knob's largest value in the explored range."""
RESOURCES = ("dsp", "lut", "ff", "bram18", "axi_bits")


@st.composite
def designs(draw) -> VtaConfig:
    while True:
        values = {k: draw(st.integers({"log_batch": 0, "log_block": 3, "gemm_stages": 1}.get(k, hi - 3), hi))
                  for k, hi in KNOBS.items()}
        try:
            return VtaConfig(**values)
        except ConfigError:
            continue


def _one_step_bigger(cfg: VtaConfig, knob: str) -> VtaConfig | None:
    """`cfg` with `knob` one step up, or None: the knob at its largest, or a design refused."""
    if getattr(cfg, knob) == KNOBS[knob]:
        return None
    try:
        return replace(cfg, **{knob: getattr(cfg, knob) + 1})
    except ConfigError:
        return None


@pytest.mark.parametrize("knob", sorted(KNOBS))
@given(cfg=designs(), part=st.sampled_from(sorted(parts())))
def test_every_resource_is_monotone_in_every_knob(knob, cfg, part):
    bigger = _one_step_bigger(cfg, knob)
    assume(bigger is not None)  # drawn again, not passed: hypothesis fails if it finds no such pair
    small, large = estimate(cfg, get_part(part)), estimate(bigger, get_part(part))
    for resource in RESOURCES:
        assert getattr(small, resource) <= getattr(large, resource), (knob, resource)
    if knob in ("log_batch", "log_block"):
        assert large.clock_ceiling_mhz <= small.clock_ceiling_mhz
    if knob == "gemm_stages":
        assert large.clock_ceiling_mhz >= small.clock_ceiling_mhz


@pytest.mark.parametrize("board, part", [("pynq", "pynq-z1"), ("ultra96", "ultra96"), ("zcu104", "zcu104")])
def test_tvm_designs_fit_their_boards_at_their_clocks(board, part):
    use = check_fits(load_config(board), get_part(part))
    assert use.clock_ceiling_mhz >= load_config(board).clock_mhz


def test_default_buffers_take_the_block_rams_of_their_shapes():
    assert bram18_blocks(128, 2048) == 16  # 16 x (2K x 8)
    assert bram18_blocks(2048, 1024) == 128  # 128 x (1K x 16)
    assert bram18_blocks(8192, 256) == 256  # 256 x (512 x 32), half empty
    assert estimate(VtaConfig(), get_part("pynq-z1")).bram18 == 8 + 16 + 16 + 128 + 64 + 16


def test_a_design_too_big_for_the_part_names_each_overflow():
    big = VtaConfig(log_block=5)
    with pytest.raises(ResourceError, match=r"does not fit pynq-z1: LUT: needs [\d,]+, pynq-z1 \(xc7z020\) "
                                            r"has 53,200; BRAM18: needs 376.*clock: 100 MHz asked"):
        check_fits(big, get_part("xc7z020"))
    assert overflows(VtaConfig(clock_mhz=200), get_part("pynq-z1")) == [
        "clock: 200 MHz asked, the 1-stage GEMM of 1x16x16 closes at 105 MHz on 7series; add GEMM "
        "stages or lower the clock"]
    assert not overflows(VtaConfig(clock_mhz=150, gemm_stages=2), get_part("pynq-z1"))
    assert overflows(VtaConfig(log_bus_width=9), get_part("pynq-z1"))[0].startswith("AXI bits: needs 512")


def test_unknown_parts_are_refused_naming_the_known_ones():
    with pytest.raises(ConfigError, match=r"expected one of \[.*'pynq-z1'.*'xczu7ev'.*\], got 'vu9p'"):
        get_part("vu9p")
