"""Human-readable text of a compile report (what `frittata compile --report` prints)."""

from __future__ import annotations

TIMES = ("seconds", "cpu_seconds")
"""A stage's wall and CPU time, printed on its first line."""


def format_report(report: dict) -> str:
    """The stages in order: time, then what each did (phases, rules fired, extraction, kernels)."""
    lines = [f"target {report.get('target', '?')}"]
    if "cached" in report:
        cached = report["cached"]
        lines.append(f"from the compile cache (entry {cached['key']}) in {cached['seconds']:.3f} s; "
                     "the stages before 'cache' are the compile that filled it")
    for name, stage in report.get("stages", {}).items():
        cpu = f" (cpu {stage['cpu_seconds']:.3f} s)" if "cpu_seconds" in stage else ""
        lines.append(f"{name:<9} {stage['seconds']:8.3f} s{cpu}")
        lines.extend("  " + line for line in _stage_lines(name, stage))
    ops = report.get("program", {})
    if ops:
        lines.append(f"ops in    {_ops(ops['input_ops'])}")
        lines.append(f"ops out   {_ops(ops['output_ops'])}")
    return "\n".join(lines)


def _stage_lines(name: str, stage: dict) -> list[str]:
    match name:
        case "saturate":
            lines = [f"phase {p['name']:<9} {p['stop']:<10} iterations {p['iterations']:<3} "
                     f"e-graph rows {p['nodes']:<7} {p['seconds']:.3f} s" for p in stage["phases"]]
            if "rules" in stage:
                rules = stage["rules"]
                lines.append(f"rules     {rules['firable']} of {rules['selected']} can fire on the program")
            return lines + [f"fired {rule}: {n}" for rule, n in stage["fired"].items()]
        case "extract":
            gap = "unknown" if stage["gap"] is None else f"{stage['gap']:.2%}"
            before = stage["input_cost"]
            return [f"{stage['method']} extraction with the {stage['model']} model: cost {stage['cost'] * 1e3:.3f} ms"
                    f" (input program {before * 1e3 if before is not None else float('nan'):.3f} ms),"
                    f" gap {gap}, {stage['status']}, {stage['e_nodes']} e-nodes / {stage['e_classes']} e-classes"
                    ] + [f"kernel {k['kernel']} {k['seconds'] * 1e3:.3f} ms priced by {k['priced_by']}"
                         for k in stage.get("kernels", [])]
        case "build":
            slowest = stage.get("slowest", [])
            lines = [f"{k}: {_short(v)}" for k, v in stage.items() if k not in (*TIMES, "slowest", "helpers")]
            return lines + [f"slow kernel {r['kernel']:<22} x{r['steps']:<3} emit {r['emit_wall_s']:.3f} s wall, "
                            f"optimize {r['optimize_cpu_s']:.3f} s cpu, codegen {r['codegen_cpu_s']:.3f} s cpu"
                            for r in slowest]
        case _:
            line = ", ".join(f"{k} {v}" for k, v in stage.items() if k not in TIMES)
            return [line] if line else []


def _short(value) -> str:
    """Lists print as counts per distinct item (kernel names collapse to their op)."""
    if not isinstance(value, list):
        return str(value)
    counts: dict[str, int] = {}
    for item in value:
        key = str(item).split("_", 1)[-1].split(".")[0] if str(item).startswith("k") else str(item)
        counts[key] = counts.get(key, 0) + 1
    return f"{len(value)}: " + _ops(counts)


def _ops(counts: dict[str, int]) -> str:
    return ", ".join(f"{op} x{n}" for op, n in sorted(counts.items(), key=lambda kv: -kv[1]))
