"""`compile`: the pipeline as a straight line of named stages, each reporting what it did.

    program ─check-rules─saturate─► e-graph ─extract─► program ─fold─► program ─build─► Module

`check-rules` property-checks the user's rules (an unsound one stops the compile before it is
applied); `saturate` runs the rule library (plus user rules) in bounded phases; `extract` picks the
cheapest equivalent program under the target's cost model; `fold` evaluates the parameter
arithmetic that folding rules introduced; `build` lowers the result for the target. Every stage
is bounded, so compile always finishes with a valid program: at worst the input program.
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from frittata import compile_cache
from frittata.backends import fileformat
from frittata.backends.kernel_cache import default_cache
from frittata.backends.registry import get_target
from frittata.backends.target import CompiledModule, Target
from frittata.terms.program import Program


@dataclass
class CompileOptions:
    """Everything `compile` can be told. `rules` are extra rule files (paths) or rule text,
    property-checked first unless `check_rules` is false; `target` is a registered target's
    name or a `Target` value; `config` is a hardware configuration for targets that take one."""

    target: str | Target = "llvm"
    rules: Sequence[str] = ()
    check_rules: bool = True
    disable: Sequence[str] = ()
    cost: Any = None
    limits: Any = None
    schedule: Any = None
    extractor: str = "auto"
    extract_seconds: float = 5.0
    threads: int | None = None
    optimize: bool = True
    records: Any = None
    config: Any = None


@dataclass
class StageLog:
    """The report of every stage, in order, with wall time (`seconds`) and CPU time
    (`cpu_seconds`: this process's and that of the worker processes it waited for, such as the
    build's LLVM workers; on a shared machine the wall time counts the other users' load, the
    CPU time does not); `progress` is told of each stage."""

    progress: Callable[[str], None] | None = None
    stages: dict[str, dict] = field(default_factory=dict)

    def run(self, name: str, fn: Callable[[], Any], summarize: Callable[[Any], dict]) -> Any:
        if self.progress:
            self.progress(name)
        start, cpu = time.perf_counter(), _cpu_seconds()
        result = fn()
        self.stages[name] = {**summarize(result), "seconds": round(time.perf_counter() - start, 4),
                             "cpu_seconds": round(_cpu_seconds() - cpu, 4)}
        return result


def _cpu_seconds() -> float:
    """User and system CPU seconds of this process and its finished children (`os.times`)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def compile(program: Program, target: str | Target = "llvm", *,
            progress: Callable[[str], None] | None = None, **options: Any) -> CompiledModule:
    """Compile `program` for `target` ("llvm", "vta", a registered target's name, or a `Target`)
    into a runnable module.

    Options: rules (extra rule files or rule text; each is property-checked against the
    interpreter first and a `RuleCheckError` names a counterexample, unless check_rules=False;
    rules that passed are remembered in the cache folder), disable (rule or family names), cost (a cost
    model, or a function of `frittata.extract.NodeInfo`), limits (`frittata.rewrites.Limits`),
    schedule (phases), extractor ("auto" | "greedy" | "ilp"), extract_seconds (the ILP's limit,
    CPU seconds of this process), threads,
    optimize (False skips saturation and extraction), config (the target's hardware
    configuration: for "vta" a `VtaConfig`, a dict of `vta_config.json` keys, a path to such a
    file or a shipped board name: "pynq", "ultra96", "zcu104", "de10nano"),
    records (tuning records, `frittata.extract.records.Records` or a JSONL path: the kernels
    they measured on this device are priced by their measurements, and the report's extract
    stage lists what priced each chosen kernel). The module's `report` holds each stage's
    report and `program` the optimized program it was built from (not saved with the module).
    """
    opts = CompileOptions(target=target, **options)
    if opts.records is not None:
        from frittata.extract.records import Records

        opts.records = Records.from_any(opts.records)
    chosen = opts.target if isinstance(opts.target, Target) else get_target(opts.target)
    if opts.config is not None:
        chosen = chosen.with_config(opts.config)
    log = StageLog(progress)
    key = _cache_key(program, opts, chosen)
    found = log.run("cache", lambda: key and compile_cache.lookup(key), lambda r: {"hit": bool(r)})
    if key and found:
        return _from_cache(chosen, opts, log, key, *found)
    optimized = optimize(program, chosen, opts, log) if opts.optimize else program
    module = log.run("build", lambda: chosen.build(optimized, opts.threads),
                     lambda m: dict(m.report.get("backend", {})))
    module.report["stages"] = log.stages
    module.report["target"] = chosen.name
    module.report["program"] = {"input_ops": program.op_counts(), "output_ops": optimized.op_counts()}
    module.program = optimized
    if key:
        log.run("store", lambda: not _timed_out(log) and _store(key, optimized, module),
                lambda stored: {"stored": stored})
    return module


def _timed_out(log: StageLog) -> bool:
    """Whether a saturation phase stopped at its time limit: the result then depends on how busy
    the machine was, so it is not cached (a MobileNetV2 compiled at load 11 stopped every phase
    at the limit, left 35 clips and 10 adds unfused, and was served from the cache afterwards)."""
    return any(phase["stop"] == "time-limit" for phase in log.stages.get("saturate", {}).get("phases", []))


def _store(key: str, optimized: Program, module: CompiledModule) -> bool:
    """Put the module in the compile cache; False for a user target's module that cannot be
    written as bytes (no `to_bytes`): it is compiled again next time, not refused."""
    if not hasattr(module, "to_bytes"):
        return False
    compile_cache.store(key, optimized, module.to_bytes())
    return True


def _cache_key(program: Program, opts: CompileOptions, target: Target) -> str | None:
    """The compile cache's key, or None when the cache is off or an option is code, not data."""
    if not isinstance(opts.target, str) or default_cache("compiles") is None:
        return None
    options = {k: v for k, v in vars(opts).items() if k != "target"}
    options["config"] = sorted(target.config.items())
    options["rules"] = [_rule_text(source) for source in opts.rules]
    options["records"] = None if opts.records is None else opts.records.digest()
    return compile_cache.compile_key(program, opts.target, options)


def _rule_text(source: str) -> str:
    """What a rule source means to the compile cache: its text, so an edited rule file misses.
    An unreadable file keys by its path (loading it will raise the error)."""
    if "(rule" in source:
        return source
    try:
        return Path(source).read_text()
    except OSError:
        return source


def _from_cache(target: Target, opts: CompileOptions, log: StageLog, key: str, optimized: Program,
                saved: fileformat.Saved) -> CompiledModule:
    """The module a previous compile saved. Its report is that compile's stages, then this
    compile's cache lookup and load; `report["cached"]` names the entry and this compile's time."""
    module = log.run("load", lambda: target.load(saved, opts.threads), lambda _: {})
    earlier = {k: v for k, v in module.report.get("stages", {}).items() if k not in log.stages and k != "store"}
    module.report["stages"] = earlier | log.stages
    module.report["cached"] = {"key": key[:16], "seconds": round(sum(s["seconds"] for s in log.stages.values()), 4)}
    module.program = optimized
    return module


def optimize(program: Program, target: Target, opts: CompileOptions, log: StageLog) -> Program:
    """Saturate, extract and fold: the best equivalent program under the target's cost model
    (or the schedule and cost model `opts` gives instead of the target's)."""
    _import_detached("frittata.rewrites", "frittata.extract")
    from frittata.extract import extract
    from frittata.rewrites import fold_params, saturate

    if opts.rules and opts.check_rules:
        log.run("check-rules", lambda: _check_user_rules(opts.rules, target), lambda r: r.summary())
    schedule = opts.schedule if opts.schedule is not None else target.schedule()
    data, saturation = log.run(
        "saturate",
        lambda: saturate(program, rules=list(opts.rules), disable=list(opts.disable),
                         schedule=schedule, limits=opts.limits, params=target.rule_params()),
        lambda r: _saturation_summary(r[1]))
    model = opts.cost if opts.cost is not None else target.cost_model()
    if opts.records is not None:
        data, model = _measured(data, model, opts)
    choice, _ = log.run("extract",
                        lambda: extract(data, model, method=opts.extractor, time_limit=opts.extract_seconds),
                        lambda r: _extraction_summary(r[1]))
    unavailable = getattr(model, "unavailable", None)
    if unavailable:
        log.stages["extract"]["unavailable"] = dict(unavailable)
    if opts.records is not None:
        from frittata.extract.measured import pricing

        log.stages["extract"]["kernels"] = pricing(data, choice, model)  # type: ignore[arg-type]
    chosen = data.to_program(choice)
    return log.run("fold", lambda: fold_params(chosen), lambda p: {"params": len(p.params), "terms": len(p.terms())})


def _import_detached(*names: str) -> None:
    """Import modules from a frame that holds nothing of the caller's.

    egglog keeps the frame that defines an `Expr` class for good (to read its names later), and a
    frame keeps its callers as they were when it returned: imported first from here, egglog would
    keep this compile's frames, and so its program, for the life of the process. A generator's
    frame has no caller once it is suspended, so importing inside one stops the chain there."""

    def importing():
        yield [importlib.import_module(name) for name in names]

    next(importing())


def _measured(data, model, opts: CompileOptions):
    """The e-graph with the records' best schedules added, and the cost model pricing by records
    measured on this host, or by the ranking model trained on them (`frittata.extract.measured`),
    told what the program extracted with `model` alone runs (the untuned program)."""
    from frittata.extract import extract
    from frittata.extract.measured import (MeasuredCost, operand_classes, schedules_in, untuned_schedules,
                                           with_recorded_schedules)
    from frittata.tuning.device import host_device
    from frittata.tuning.model import LearnedPrice

    records = opts.records
    device = host_device(opts.threads)
    lanes = getattr(model, "vector_lanes", device.lanes)
    learned = LearnedPrice([r for r in records if r.device == device.key], device.lanes, device.threads)
    untuned, _ = extract(data, model, method=opts.extractor, time_limit=opts.extract_seconds)
    return (with_recorded_schedules(data, records, device.key, lanes),
            MeasuredCost(records, device.key, model, lanes, learned if learned.lines else None,
                         schedules_in(data, lanes), untuned_schedules(data, untuned, lanes),
                         operand_classes(data, lanes)))


def _check_user_rules(rules: Sequence[str], target: Target):
    from frittata.backends.kernel_cache import cache_root
    from frittata.backends.rule_runners import RUNNERS
    from frittata.rewrites.user_check import check_user_rules

    root = cache_root()
    return check_user_rules(rules, target.rule_params(), None if root is None else root / "checked-rules",
                            compiled=RUNNERS)


def _saturation_summary(report) -> dict:
    return {
        "phases": [{"name": p.name, "stop": p.stop_reason, "iterations": p.iterations, "nodes": p.nodes,
                    "seconds": round(p.seconds, 4)} for p in report.phases],
        "nodes": report.nodes,
        "rules": {"firable": report.firable, "selected": report.selected},
        "fired": report.fired(),
    }


def _extraction_summary(report) -> dict:
    return {"method": report.method, "model": report.model, "cost": report.cost,
            "input_cost": report.original_cost, "greedy_cost": report.greedy_cost,
            "gap": report.gap, "optimal": report.optimal, "status": report.status,
            "e_nodes": report.n_nodes, "e_classes": report.n_classes}
