"""VTA configurations as data: TVM's files load as they are, bad files are refused with the key
and the file named, and a compile takes a configuration as a path, a dict, an object or a
board name."""

from __future__ import annotations

import json

import numpy as np
import pytest

import frittata as ft
from frittata.backends.vta.hw.config import VtaConfig
from frittata.backends.vta.hw.config_file import (
    as_config, config_from_dict, config_to_dict, load_config, shipped_names)
from frittata.backends.vta.hw.errors import ConfigError
from frittata.terms import builders as tb

TVM_DEFAULT = {"TARGET": "sim", "HW_VER": "0.0.2", "LOG_INP_WIDTH": 3, "LOG_WGT_WIDTH": 3,
               "LOG_ACC_WIDTH": 5, "LOG_BATCH": 0, "LOG_BLOCK": 4, "LOG_UOP_BUFF_SIZE": 15,
               "LOG_INP_BUFF_SIZE": 15, "LOG_WGT_BUFF_SIZE": 18, "LOG_ACC_BUFF_SIZE": 17}


@pytest.mark.parametrize("board, clock, bus", [("pynq", 100, 8), ("de10nano", 100, 8),
                                                ("ultra96", 333, 16), ("zcu104", 333, 16)])
def test_tvm_sample_configs_load_with_their_boards_clock_and_bus(board, clock, bus):
    cfg = load_config(board)
    assert cfg.name == "1x16_i8w8a32_15_15_18_17"
    assert (cfg.clock_mhz, cfg.bus_bytes) == (clock, bus)


def test_shipped_names_are_the_four_boards():
    assert shipped_names() == ["de10nano", "pynq", "ultra96", "zcu104"]


def test_a_config_round_trips_through_its_file_form(tmp_path):
    cfg = VtaConfig(log_batch=2, log_block=5, log_wgt_buff_size=19, clock_mhz=150, log_bus_width=7, gemm_stages=3)
    path = tmp_path / "vta_config.json"
    path.write_text(json.dumps(config_to_dict(cfg)))
    assert load_config(path) == cfg == as_config(config_to_dict(cfg)) == as_config(cfg)


def test_older_split_block_keys_load_when_equal():
    data = {k: v for k, v in TVM_DEFAULT.items() if k != "LOG_BLOCK"} | {"LOG_BLOCK_IN": 5, "LOG_BLOCK_OUT": 5}
    assert config_from_dict(data).block_in == 32


@pytest.mark.parametrize("change, message", [
    ({"LOG_BATCH": 7}, r"here\.json: invalid VTA configuration .*log_batch=7"),
    ({"LOG_BLOCK": "4"}, r"here\.json: LOG_BLOCK: expected an int, got '4'"),
    ({"LOG_BLOCK": True}, r"LOG_BLOCK: expected an int, got True"),
    ({"LOG_ACC_BUFF_SIZE": 18}, r"micro-op fields need 34 bits"),
    ({"LOG_BLOK": 4}, r"unknown key\(s\) \['LOG_BLOK'\]"),
    ({"TARGET": "vcu118"}, r"TARGET: expected one of .*got 'vcu118'"),
    ({"HW_FREQ": -5}, r"clock_mhz: expected a number in \(0, 1000\], got -5"),
    ({"GEMM_STAGES": 0}, r"gemm_stages: expected an int in \[1, 8\], got 0"),
    ({"LOG_BUS_WIDTH": 11}, r"log_bus_width: expected 5..10"),
    ({"LOG_BLOCK_IN": 4, "LOG_BLOCK_OUT": 5}, r"expected LOG_BLOCK alone"),
])
def test_bad_files_are_refused_naming_the_file_key_and_value(change, message):
    with pytest.raises(ConfigError, match=message) as info:
        config_from_dict(TVM_DEFAULT | change, "here.json")
    assert isinstance(info.value, ft.FrittataError)


def test_unequal_split_blocks_missing_keys_and_unreadable_files_are_refused(tmp_path):
    split = {k: v for k, v in TVM_DEFAULT.items() if k != "LOG_BLOCK"} | {"LOG_BLOCK_IN": 4, "LOG_BLOCK_OUT": 5}
    with pytest.raises(ConfigError, match="expected LOG_BLOCK_IN == LOG_BLOCK_OUT .* got 4 and 5"):
        config_from_dict(split)
    with pytest.raises(ConfigError, match=r"missing key\(s\) \['LOG_WGT_WIDTH'\]"):
        config_from_dict({k: v for k, v in TVM_DEFAULT.items() if k != "LOG_WGT_WIDTH"})
    with pytest.raises(ConfigError, match="unreadable path"):
        load_config(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{ LOG_BATCH: 0 }")
    with pytest.raises(ConfigError, match=r"bad\.json:1: expected JSON"):
        load_config(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="expected a VtaConfig, a dict"):
        as_config(42)


def test_compile_takes_a_config_and_llvm_refuses_one(rng):
    x = tb.var("x", (2, 64), "int8")
    w = tb.param("w", rng.integers(-128, 128, (64, 64)).astype(np.int8))
    program = ft.Program({"y": tb.cast(tb.clip(tb.right_shift(tb.dense(x, w), 6), -127, 127), "int8")})
    dense = {**TVM_DEFAULT, "LOG_BATCH": 1, "LOG_BLOCK": 5, "HW_FREQ": 200}
    module = ft.compile(program, target="vta", config=dense)
    assert module.report["backend"]["target"].startswith("vta 2x32_i8w8a32")
    assert module.report["backend"]["split"]["vta"] == ["vta_dense"]
    data = rng.integers(-128, 128, (2, 64)).astype(np.int8)
    np.testing.assert_array_equal(module.run(x=data)["y"], ft.evaluate(program, {"x": data})["y"])
    with pytest.raises(ft.FrittataError, match="target 'llvm': expected no hardware configuration"):
        ft.compile(program, target="llvm", config="pynq")
