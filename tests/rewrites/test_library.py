"""Finding rules: the shipped library, user files and strings, unique names, disabling."""

import pytest

from frittata.errors import RewriteError
from frittata.rewrites.library import library_families, library_files, library_rules, load_file, load_source, \
    select_rules

TWICE = "(rule twice-relu (relu (relu ?x)) => (relu ?x))"
SCALE = ('(rule scale (mul ?x (const :value $v :dtype "float32")) => (div ?x (const :value $d :dtype "float32"))'
         " :table [$v $d] (half 0.5 2.0) (quarter 0.25 4.0))")


def test_the_library_is_one_family_per_file_named_like_the_file():
    families = library_families()
    assert families == sorted(families) == [p.stem for p in library_files()]
    assert {"algebraic", "fusion", "tiling", "tensorize_vta"} <= set(families)
    assert {r.family for r in library_rules()} == set(families)


def test_a_user_file_is_a_family_named_like_the_file(tmp_path):
    path = tmp_path / "mine.rules"
    path.write_text(f"; my rules\n{TWICE}\n")
    (rule,) = load_file(path)
    assert (rule.name, rule.family, rule.where) == ("twice-relu", "mine", f"{path}:2:1")
    assert load_source(path) == load_source(str(path)) == [rule]


def test_rule_text_is_a_source_of_the_user_family():
    (rule,) = load_source(TWICE)
    assert (rule.name, rule.family, rule.where) == ("twice-relu", "user", "<string>:1:1")


def test_an_unreadable_file_names_the_path_and_the_reason(tmp_path):
    with pytest.raises(RewriteError, match=rf"rules: expected a readable rule file, got {tmp_path}/none.rules "
                                           r"\(No such file or directory\)"):
        load_file(tmp_path / "none.rules")


def test_two_rules_of_one_name_are_refused_naming_both_places(tmp_path):
    path = tmp_path / "again.rules"
    path.write_text("\n" + TWICE)
    with pytest.raises(RewriteError, match=rf"expected unique rule names, got 'twice-relu' at <string>:1:1 and "
                                           rf"{path}:2:1"):
        select_rules([TWICE, path], library=False)
    with pytest.raises(RewriteError, match="expected unique rule names, got 'fuse-dense-bias'"):
        select_rules(["(rule fuse-dense-bias (neg (neg ?x)) => ?x)"])


def test_disabling_takes_a_rule_a_family_or_a_template_name():
    rules = select_rules([TWICE, "(rule twice-neg (neg (neg ?x)) => ?x)"], library=False)
    assert [r.name for r in rules] == ["twice-relu", "twice-neg"]
    assert [r.name for r in select_rules([TWICE, "(rule twice-neg (neg (neg ?x)) => ?x)"], library=False,
                                         disable=["twice-neg"])] == ["twice-relu"]
    assert select_rules([TWICE], library=False, disable=["user"]) == []
    both = select_rules([TWICE, SCALE], library=False)
    assert [r.name for r in both] == ["twice-relu", "scale/half", "scale/quarter"]
    assert [r.name for r in select_rules([TWICE, SCALE], library=False, disable=["scale"])] == ["twice-relu"]
    assert [r.name for r in select_rules([SCALE], library=False, disable=["scale/half"])] == ["scale/quarter"]
    library = select_rules()
    without = select_rules(disable=["tiling"])
    assert len(without) == len(library) - sum(r.family == "tiling" for r in library) < len(library)
    assert all(r.family != "tiling" for r in without)
