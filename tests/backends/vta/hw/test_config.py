"""The VTA configuration: default constants, other design points, rejected ones."""

import pytest

from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.errors import ConfigError
from frittata.errors import HardwareError


def test_default_matches_the_spec_table():
    cfg = VtaConfig()
    assert cfg.name == "1x16_i8w8a32_15_15_18_17"
    assert (cfg.inp_elem_bytes, cfg.wgt_elem_bytes, cfg.acc_elem_bytes, cfg.out_elem_bytes) == (
        16, 256, 64, 16)
    assert (cfg.uop_depth, cfg.inp_depth, cfg.wgt_depth, cfg.acc_depth, cfg.out_depth) == (
        8192, 2048, 1024, 2048, 2048)
    assert (cfg.uop_dst_width, cfg.uop_src_width, cfg.uop_wgt_width) == (11, 11, 10)
    assert cfg.log_out_buff_size == 15
    assert cfg.macs_per_cycle == 256


@pytest.mark.parametrize("kwargs, depths", [
    (dict(log_block=5), (1024, 256, 1024)),
    (dict(log_batch=2), (512, 1024, 512)),
    (dict(log_inp_buff_size=14, log_wgt_buff_size=17), (1024, 512, 2048)),
])
def test_other_design_points_derive_their_depths(kwargs, depths):
    cfg = VtaConfig(**kwargs)
    assert (cfg.inp_depth, cfg.wgt_depth, cfg.acc_depth) == depths


@pytest.mark.parametrize("kwargs, reason", [
    (dict(log_acc_buff_size=18), "micro-op fields need 34 bits"),
    (dict(log_uop_buff_size=17), "word 0"),
    (dict(log_inp_width=4), "int8 inputs"),
    (dict(log_block=0), "log_block"),
    (dict(log_batch=-1), "log2 parameters as ints"),
    (dict(log_inp_buff_size=4), "fewer than 2 elements"),
])
def test_invalid_configurations_are_rejected_with_a_reason(kwargs, reason):
    with pytest.raises(ConfigError, match=reason) as info:
        VtaConfig(**kwargs)
    assert isinstance(info.value, HardwareError)


def test_config_is_frozen_and_hashable():
    cfg = VtaConfig()
    with pytest.raises(AttributeError):
        cfg.log_block = 5
    assert hash(cfg) == hash(VtaConfig())
