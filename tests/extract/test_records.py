"""Tuning records: JSONL round-trip, merge, best, and malformed files as TuningError."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from frittata.errors import TuningError
from frittata.extract.records import Record, Records, Verdict, Workload
from tests.tuning.programs import conv_schedule, conv_workload

DEVICE = "llvm/test/8-lanes/2-threads/00000000"


def record(seconds: float | None, oc: int = 4, device: str = DEVICE, at: float = 1.0) -> Record:
    error = None if seconds is not None else "build failed: LoweringError: no"
    return Record(conv_workload(), conv_schedule(oc, 1, 16), device, {"cpu": "test"}, seconds, error, at)


def test_records_round_trip_through_jsonl(tmp_path):
    log = Records([record(2e-4), record(None, oc=6), record(1e-4, oc=8, at=2.0)])
    path = tmp_path / "r.jsonl"
    log.save(path)
    assert Records.load(path).records == log.records
    assert Workload.from_json(json.loads(json.dumps(conv_workload().to_json()))) == conv_workload()


def test_append_writes_one_line_per_record(tmp_path):
    path = tmp_path / "r.jsonl"
    log = Records()
    log.append(record(2e-4), path)
    log.append(record(None, oc=6), path)
    assert len(path.read_text().splitlines()) == 2
    assert Records.load(path).records == log.records


def test_a_gzip_log_is_read_saved_and_appended_through_its_name(tmp_path):
    path = tmp_path / "r.jsonl.gz"
    log = Records([record(2e-4)])
    log.save(path)
    log.append(record(None, oc=6), path)
    assert Records.load(path).records == log.records
    (tmp_path / "plain.jsonl.gz").write_text("{}\n")
    with pytest.raises(TuningError, match="readable JSONL file"):
        Records.load(tmp_path / "plain.jsonl.gz")


def test_merge_keeps_each_measurement_once_and_best_is_the_fastest():
    a = Records([record(3e-4, oc=4), record(2e-4, oc=6)])
    b = Records([record(2e-4, oc=6), record(1e-4, oc=8, at=5.0), record(5e-5, oc=2, device="other")])
    merged = a.merge(b)
    assert len(merged) == 4
    best = merged.best(DEVICE)[conv_workload().key]
    assert best.seconds == 1e-4 and dict(best.schedule)["oc_block"] == 8
    assert merged.best("other")[conv_workload().key].seconds == 5e-5
    assert (conv_workload().key, conv_schedule(6, 1, 16)) in merged.tried(DEVICE)


def test_best_is_the_schedule_of_the_shortest_median_not_the_luckiest_run():
    """oc_block 8 measured 1.0e-4 once, then 3e-4 and 2.8e-4 (median 2.8e-4); oc_block 4 twice
    near 2e-4: extraction prices the medians, so best is oc_block 4 (its fastest run)."""
    log = Records([record(1e-4, oc=8), record(3e-4, oc=8, at=2.0), record(2.8e-4, oc=8, at=3.0),
                   record(2.1e-4, oc=4), record(1.9e-4, oc=4, at=2.0)])
    best = log.best(DEVICE)[conv_workload().key]
    assert dict(best.schedule)["oc_block"] == 4 and best.seconds == 1.9e-4


def test_failed_records_are_tried_but_never_best():
    log = Records([record(None, oc=6), record(3e-4, oc=4)])
    assert log.best(DEVICE)[conv_workload().key].seconds == 3e-4
    assert (conv_workload().key, conv_schedule(6, 1, 16)) not in log.measured(DEVICE)
    assert (conv_workload().key, conv_schedule(6, 1, 16)) in log.tried(DEVICE)


@pytest.mark.parametrize("line, expected", [
    ("not json", "one JSON object per line"),
    ("[1, 2]", "expected a JSON object"),
    ('{"version": 1}', "expected a tuning record"),
    ('{"version": 99}', "record version 1, got 99"),
])
def test_malformed_lines_name_the_file_and_line(tmp_path, line, expected):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record(1e-4).to_json()) + "\n" + line + "\n")
    with pytest.raises(TuningError, match=expected) as info:
        Records.load(path)
    assert f"{path}:2" in str(info.value)


def test_a_record_with_both_or_neither_time_and_error_is_rejected(tmp_path):
    data = record(1e-4).to_json() | {"error": "boom"}
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(data) + "\n")
    with pytest.raises(TuningError, match="seconds >= 0 or an error"):
        Records.load(path)


def test_a_missing_records_file_is_a_tuning_error(tmp_path):
    with pytest.raises(TuningError, match="readable JSONL file"):
        Records.load(tmp_path / "none.jsonl")


def verdict(kept: bool, at: float = 2.0, candidate_oc: int = 8) -> Verdict:
    return Verdict(conv_workload(), DEVICE, conv_schedule(candidate_oc, 1, 16), conv_schedule(4, 1, 16), kept,
                   0.05 if kept else -0.1, 0.01, 40, at)


def test_verdicts_round_trip_merge_and_pin_the_schedule_best_answers_with(tmp_path):
    """oc_block 8 is fastest alone; a verdict that rejected it in the network pins the default
    (oc_block 4), a later one that kept it pins oc_block 8 again."""
    log = Records([record(2e-4, oc=4), record(1e-4, oc=8)])
    path = tmp_path / "r.jsonl"
    log.save(path)
    log.append(verdict(False), path)
    loaded = Records.load(path)
    assert loaded.records == log.records and loaded.verdicts == [verdict(False)] and list(loaded) == log.records
    assert loaded.digest() != Records(log.records).digest()
    assert loaded.pinned(DEVICE) == {conv_workload().key: conv_schedule(4, 1, 16)} and loaded.pinned("other") == {}
    assert dict(loaded.best(DEVICE)[conv_workload().key].schedule)["oc_block"] == 4
    merged = loaded.merge(Records([], [verdict(True, at=3.0)]), loaded)
    assert merged.verdicts == [verdict(False), verdict(True, at=3.0)]
    assert dict(merged.best(DEVICE)[conv_workload().key].schedule)["oc_block"] == 8


def test_a_malformed_verdict_is_a_tuning_error_naming_the_line(tmp_path):
    path = tmp_path / "r.jsonl"
    data = verdict(True).to_json()
    del data["verdict"]["kept"]
    path.write_text(json.dumps(record(1e-4).to_json()) + "\n" + json.dumps(data) + "\n")
    with pytest.raises(TuningError, match=r"r.jsonl:2: expected a verdict .*kept"):
        Records.load(path)


def test_an_old_logs_undecided_outcome_loads_but_pins_nothing(tmp_path):
    """Before the check logged decisions only, an undecided candidate and a check stopped at 0
    rounds (noise inf, written as JSON's Infinity) were logged as kept false: they load, do not
    decide (`Verdict.decided`) and pin nothing; a rejection of the same log still pins."""
    undecided = replace(verdict(False), gain=0.01, noise=0.05)
    unrun = replace(verdict(False, at=3.0), gain=0.0, noise=math.inf, rounds=0)
    path = tmp_path / "old.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in
                            [record(2e-4, oc=4).to_json(), record(1e-4, oc=8).to_json(), undecided.to_json(),
                             unrun.to_json()]))
    loaded = Records.load(path)
    assert loaded.verdicts == [undecided, unrun] and not any(v.decided for v in loaded.verdicts)
    assert loaded.pinned(DEVICE) == {} and dict(loaded.best(DEVICE)[conv_workload().key].schedule)["oc_block"] == 8
    loaded.append(verdict(False, at=4.0))
    assert loaded.pinned(DEVICE) == {conv_workload().key: conv_schedule(4, 1, 16)}
