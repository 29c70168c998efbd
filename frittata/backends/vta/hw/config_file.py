"""VTA configurations as data: the `vta_config.json` form TVM uses, read, checked and written.

A file holds the primary keys `LOG_INP_WIDTH`, `LOG_WGT_WIDTH`, `LOG_ACC_WIDTH`, `LOG_BATCH`,
`LOG_BLOCK` (or, as older TVM releases wrote it, `LOG_BLOCK_IN` and `LOG_BLOCK_OUT`, which must
be equal here) and
`LOG_{UOP,INP,WGT,ACC}_BUFF_SIZE`, each an int; `TARGET` and `HW_VER` name the board and the
bitstream version.  The circuit keys are optional: `HW_FREQ` (MHz, as older TVM releases wrote
it), `LOG_BUS_WIDTH` (log2 bits of the DMA's AXI data port) and `GEMM_STAGES` (pipeline stages
of the GEMM datapath).  Missing clock and bus keys default to the board `TARGET` names: TVM
builds its Pynq and DE10-Nano bitstreams at 100 MHz on a 64-bit bus and its Ultra96 and ZCU104
ones at 333 MHz on a 128-bit bus.  TVM's published sample files ship in `configs/` and load as
they are, by path or by board name (`load_config("zcu104")`).

Unequal LOG_BLOCK_IN and LOG_BLOCK_OUT are refused, by decision: TVM's configurations since
HW_VER 0.0.1 have one LOG_BLOCK (its package config derives both blocks from it; the split keys
are the v0.5 format), so no shipped design has them; and a layer's packed output, in blocks of
BLOCK_OUT channels, is the next layer's packed input, in blocks of BLOCK_IN, with no relayout
between them (the tensorization rules cancel the unpack / pack pair); unequal blocks would
need a repack on the host between every two layers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from frittata.backends.vta.hw.config import LOG_FIELDS, VtaConfig
from frittata.backends.vta.hw.errors import ConfigError

SHIPPED = Path(__file__).parent / "configs"
"""TVM's sample configurations, one file per board."""

BOARDS: dict[str, tuple[float, int]] = {
    "sim": (100.0, 6), "tsim": (100.0, 6), "fsim": (100.0, 6), "pynq": (100.0, 6),
    "de10nano": (100.0, 6), "ultra96": (333.0, 7), "zcu104": (333.0, 7),
}
"""TARGET -> (clock MHz, log2 AXI bits) of TVM's builds for that board."""

CIRCUIT_KEYS = {"HW_FREQ": "clock_mhz", "LOG_BUS_WIDTH": "log_bus_width", "GEMM_STAGES": "gemm_stages"}
INFO_KEYS = ("TARGET", "HW_VER")
PRIMARY_KEYS = {f.upper(): f for f in LOG_FIELDS}


def shipped_names() -> list[str]:
    return sorted(p.stem for p in SHIPPED.glob("*.json"))


def config_from_dict(data: Mapping[str, object], where: str = "VTA configuration") -> VtaConfig:
    """The configuration `data` describes; a `ConfigError` naming `where` and the key otherwise."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a JSON object of VTA keys, got {type(data).__name__}")
    known = {*PRIMARY_KEYS, "LOG_BLOCK_IN", "LOG_BLOCK_OUT", *CIRCUIT_KEYS, *INFO_KEYS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; expected keys among {sorted(known)}")
    values = dict(data)
    _merge_blocks(values, where)
    missing = sorted(set(PRIMARY_KEYS) - set(values))
    if missing:
        raise ConfigError(f"{where}: missing key(s) {missing}; a VTA configuration gives all of "
                          f"{sorted(PRIMARY_KEYS)}")
    kwargs: dict[str, object] = {}
    for key, name in PRIMARY_KEYS.items():
        kwargs[name] = _int(values[key], key, where)
    kwargs["clock_mhz"], kwargs["log_bus_width"] = _board(values.get("TARGET", "sim"), where)
    for key, name in CIRCUIT_KEYS.items():
        if key in values:
            kwargs[name] = _number(values[key], key, where) if key == "HW_FREQ" else _int(values[key], key, where)
    try:
        return VtaConfig(**kwargs)  # type: ignore[arg-type]
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None


def config_to_dict(cfg: VtaConfig) -> dict[str, object]:
    """`cfg` in the file form (every key, so the file needs no board defaults)."""
    data: dict[str, object] = {key: getattr(cfg, name) for key, name in PRIMARY_KEYS.items()}
    data.update({key: getattr(cfg, name) for key, name in CIRCUIT_KEYS.items()})
    return data


def load_config(source: str | Path) -> VtaConfig:
    """The configuration in the JSON file at `source`, or the shipped one of a board's name."""
    path = Path(source)
    if not path.exists() and isinstance(source, str) and source in shipped_names():
        path = SHIPPED / f"{source}.json"
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{source}: expected a vta_config.json file or one of the shipped "
                          f"configurations {shipped_names()}, got an unreadable path "
                          f"({error.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}:{error.lineno}: expected JSON, got {error.msg}") from None
    return config_from_dict(data, str(path))


def as_config(value: object) -> VtaConfig:
    """A `VtaConfig` from a config, a dict in the file form, a path, or a shipped board name."""
    match value:
        case VtaConfig():
            return value
        case Mapping():
            return config_from_dict(value)
        case str() | Path():
            return load_config(value)
        case _:
            raise ConfigError(f"VTA configuration: expected a VtaConfig, a dict of vta_config.json "
                              f"keys, a path or one of {shipped_names()}, got {type(value).__name__}")


def _merge_blocks(values: dict[str, object], where: str) -> None:
    """LOG_BLOCK_IN / LOG_BLOCK_OUT (older TVM) become LOG_BLOCK when equal."""
    split = [k for k in ("LOG_BLOCK_IN", "LOG_BLOCK_OUT") if k in values]
    if not split:
        return
    if "LOG_BLOCK" in values or len(split) == 1:
        raise ConfigError(f"{where}: expected LOG_BLOCK alone or both LOG_BLOCK_IN and LOG_BLOCK_OUT, "
                          f"got {sorted(k for k in values if k.startswith('LOG_BLOCK'))}")
    block_in, block_out = values.pop("LOG_BLOCK_IN"), values.pop("LOG_BLOCK_OUT")
    if block_in != block_out:
        raise ConfigError(f"{where}: expected LOG_BLOCK_IN == LOG_BLOCK_OUT (a layer's packed output "
                          f"is the next layer's packed input), got {block_in} and {block_out}; "
                          f"unequal GEMM blocks are not supported: give one LOG_BLOCK")
    values["LOG_BLOCK"] = block_in


def _board(target: object, where: str) -> tuple[float, int]:
    if target not in BOARDS:
        raise ConfigError(f"{where}: TARGET: expected one of {sorted(BOARDS)}, got {target!r}")
    return BOARDS[target]


def _int(value: object, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: {key}: expected an int, got {value!r}")
    return value


def _number(value: object, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: {key}: expected a number, got {value!r}")
    return float(value)
