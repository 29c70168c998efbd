"""Pictures: DOT text of extracted programs and e-graph neighbourhoods, SVG through `dot`."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from frittata import terms as T
from frittata.errors import FrittataError
from frittata.extract import CpuModel, extract
from frittata.extract import show
from frittata.rewrites import saturate
from frittata.terms.program import Program


def _fused_program() -> Program:
    x = T.var("x", (1, 32, 8, 8))
    w = T.param("w", np.ones((32, 32, 3, 3), np.float32))
    b = T.param("b", np.ones((32,), np.float32))
    return Program({"y": T.fused_conv2d(x, w, b, pads=(1, 1, 1, 1), epilogue=[("relu",)])})


def test_program_dot_names_ops_shapes_epilogues_and_target():
    text = show.program_dot(_fused_program(), target="llvm", cost_model=CpuModel(), title="demo")
    assert text.startswith("digraph program {") and text.rstrip().endswith("}")
    for expected in ("fused_conv2d", "epilogue: relu", "params: w, b", "float32[1, 32, 8, 8]",
                     "target llvm", " us", "out_y"):
        assert expected in text


def test_a_term_label_lists_epilogue_steps_in_order_with_their_parameters():
    x = T.var("x", (1, 8, 4, 4))
    w, b = T.param("w", np.ones((8, 8, 1, 1), np.float32)), T.param("b", np.ones((8,), np.float32))
    term = T.fused_conv2d(x, w, b, epilogue=[("clip", 0.0, 6.0), ("relu",)])
    assert "epilogue: clip 0.0 6.0 > relu" in show.term_label(term).split("\n")


def test_quote_escapes_dot_strings():
    assert show.quote('a "b"\\c\nd') == '"a \\"b\\"\\\\c\\nd"'


def test_egraph_dot_marks_the_chosen_nodes():
    x = T.var("x", (4, 8))
    w, b = T.param("w", np.ones((16, 8), np.float32)), T.param("b", np.ones((16,), np.float32))
    data, _ = saturate(Program({"y": T.relu(T.add(T.dense(x, w), b))}))
    choice, _ = extract(data, CpuModel())
    text = show.egraph_dot(data, data.roots["y"], depth=2, choice=choice)
    assert f"cluster_{data.roots['y']}" in text and "color=red" in text and "fused_dense" in text
    with pytest.raises(FrittataError, match="expected an e-class"):
        show.egraph_dot(data, len(data.classes))


def test_egraph_dot_styles_the_chosen_node_of_each_class_alone():
    """Each e-node is one line, `e<n> [label="<op>"];`, with `, style=bold, color=red` before the
    bracket for the chosen node of its class and nothing else for the others."""
    x = T.var("x", (4, 8))
    w, b = T.param("w", np.ones((16, 8), np.float32)), T.param("b", np.ones((16,), np.float32))
    data, _ = saturate(Program({"y": T.relu(T.add(T.dense(x, w), b))}))
    choice, _ = extract(data, CpuModel())
    lines = show.egraph_dot(data, data.roots["y"], depth=3, choice=choice).splitlines()
    shown = {int(line.split("cluster_")[1].split()[0]) for line in lines if "subgraph cluster_" in line}
    chosen = {choice[c] for c in shown if c in choice}
    others = {n for c in shown for n in data.classes[c].nodes} - chosen
    assert chosen and others
    for n in chosen | others:
        bold = ", style=bold, color=red" if n in chosen else ""
        assert f'    e{n} [label="{data.nodes[n].op.value}"{bold}];' in lines


def test_write_svg_without_dot_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(FrittataError, match="graphviz `dot` program"):
        show.write_svg("digraph {}", tmp_path / "x.svg")


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` is not installed")
def test_write_svg_renders(tmp_path):
    path = show.write_svg(show.program_dot(_fused_program()), tmp_path / "p.svg")
    assert "<svg" in path.read_text()


def test_only_parameter_arithmetic_is_drawn_as_folded():
    """Nodes of parameters and constants only are dashed grey (folded at compile time); a node
    that reads an input is not, nor is the input."""
    x = T.var("x", (4,))
    folded = T.add(T.param("p", np.ones(4, np.float32)), 1.0)
    lines = show.program_dot(Program({"y": T.relu(T.add(x, folded))})).splitlines()
    dashed = [line.split('"')[1].split("\\n")[0] for line in lines if "dashed" in line]
    assert dashed == ["const", "add"]
    assert "params: p" in next(line for line in lines if "dashed" in line and "add" in line)


def test_program_dot_lays_out_top_down_draws_inputs_as_ellipses_and_prints_measured_times():
    program = _fused_program()
    conv = program.outputs["y"]
    text = show.program_dot(program, measured={id(conv): 12.5e-6})
    assert "  rankdir=TB;" in text.splitlines()
    inputs = [line for line in text.splitlines() if 'label="input' in line]
    assert inputs and all(line.endswith(", shape=ellipse];") for line in inputs), inputs
    assert "measured 12.5 us" in text and text.count("measured ") == 1
