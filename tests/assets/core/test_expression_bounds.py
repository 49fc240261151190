"""The expression grammar's bounds: nesting and length are refused with a clear ExpressionError
(never a RecursionError, never minutes of Polars planning), and a declarative pipeline's spec
names the field."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from assets.core.expressions import MAX_DEPTH, MAX_TOKENS, ExpressionError, compile_expression
from assets.core.spec import SpecError, load_catalog
from assets.pipelines.transform import load_pipelines


@pytest.mark.parametrize(
    "text",
    [
        "(" * 150 + "a" + ")" * 150,
        "not (" * 150 + "a > 1" + ")" * 150,
        "-(" * 150 + "a" + ")" * 150,
        "not " * 40 + "a > 1",
        "-" * 40 + "a",
        "abs(" * 150 + "a" + ")" * 150,
        "coalesce(a, " * 40 + "a" + ")" * 40,
    ],
    ids=["parentheses", "not", "minus", "not-chain", "minus-chain", "calls", "call-arguments"],
)
def test_deep_nesting_is_an_expression_error(text: str) -> None:
    with pytest.raises(ExpressionError, match=f"nested deeper than {MAX_DEPTH} levels at \\d+"):
        compile_expression(text, ["a"])


def test_nesting_within_the_bound_compiles_and_evaluates() -> None:
    depth = MAX_DEPTH - 1
    text = "(" * depth + "a + 1" + ")" * depth
    compiled = compile_expression(text, ["a"])
    assert pl.DataFrame({"a": [1, 2]}).select(compiled.expr).to_series().to_list() == [2, 3]
    assert compile_expression("- - a", ["a"]).columns == {"a"}


def test_an_overlong_expression_is_refused_before_polars_plans_it() -> None:
    # 5,000 terms of a + a took Polars minutes to plan; the bound keeps planning in milliseconds.
    with pytest.raises(ExpressionError, match=f"longer than {MAX_TOKENS} tokens"):
        compile_expression(" + ".join(["a"] * 5_000), ["a"])
    compile_expression(" + ".join(["a"] * 400), ["a"])


def write_pipeline(folder: Path, expression: str) -> Path:
    path = folder / "deep.yaml"
    doc = {"pipeline": {"name": "deep", "source": "orders", "steps": [{"filter": expression}]}}
    path.write_text(yaml.safe_dump(doc, width=10**9))
    return path


def test_a_pipeline_filter_nested_150_deep_names_the_field(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, "(" * 150 + "quantity > 1" + ")" * 150)
    with pytest.raises(SpecError) as err:
        load_pipelines([tmp_path], load_catalog([]))
    assert str(err.value).startswith(
        f"{path}: field 'pipeline.steps.0.filter': nested deeper than {MAX_DEPTH} levels at "
    )


def test_an_error_about_a_huge_name_does_not_echo_it(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "quantity > " + "b" * 1_000_000)
    with pytest.raises(SpecError, match="unknown column 'bbbb") as err:
        load_pipelines([tmp_path], load_catalog([]))
    assert len(str(err.value)) < 2_000
