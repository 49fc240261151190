"""The spec loader's bounds on real files: an alias bomb, a recursive alias and deep nesting are
refused at once with an error naming the file, and no error echoes a large document back."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assets.core.spec import load_catalog
from assets.core.spec_files import ALIAS_EXPANSION_LIMIT, SpecError, read_yaml


def merge_key_bomb(levels: int = 7) -> str:
    """460 bytes: each level merges the one below nine times; PyYAML's merge flattening copies
    the pairs, so the unguarded loader took about a minute and 740 MB to build it."""
    lines = ["m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9}"]
    lines += [
        f"m{i}: &m{i} {{<<: [" + ",".join([f"*m{i - 1}"] * 9) + "]}" for i in range(1, levels + 1)
    ]
    return "\n".join([*lines, "name: bomb", "columns: [{name: id}]"]) + "\n"


def list_bomb(levels: int = 8) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join([*lines, "name: bomb", f"columns: *a{levels}"]) + "\n"


@pytest.mark.parametrize("bomb", [merge_key_bomb, list_bomb], ids=["merge-keys", "lists"])
def test_an_alias_bomb_is_refused_at_once_naming_the_file(tmp_path: Path, bomb) -> None:
    path = tmp_path / "specs" / "bomb.yaml"
    path.parent.mkdir()
    path.write_text(bomb())
    assert path.stat().st_size < 500
    # Refused while composing, before anything is built from it (the unguarded loader built it).
    with pytest.raises(SpecError) as err:
        load_catalog([path.parent])
    message = str(err.value)
    assert message.startswith(f"{path}: refused: line ")
    assert f"past {ALIAS_EXPANSION_LIMIT:,} nodes" in message


def test_aliases_within_the_bound_still_load(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        "money: &money {type: float, min: 0}\n"
        "columns:\n" + "".join(f"  - {{name: c{i}, <<: *money}}\n" for i in range(200))
    )
    doc = read_yaml(path)
    assert doc["columns"][199] == {"name": "c199", "type": "float", "min": 0}


def test_a_recursive_alias_and_deep_nesting_are_refused(tmp_path: Path) -> None:
    recursive = tmp_path / "recursive.yaml"
    recursive.write_text("a: &a [1, *a]\n")
    with pytest.raises(SpecError, match=r"recursive.yaml: refused: line 1: an alias inside"):
        read_yaml(recursive)
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(SpecError, match=r"deep.yaml: refused: line 1: nested deeper than 64"):
        read_yaml(deep)


def test_errors_never_echo_a_large_document(tmp_path: Path) -> None:
    huge = "x" * 2_000_000
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text(f"name: {huge}\n  - broken: [\n")
    with pytest.raises(SpecError) as err:
        read_yaml(bad_yaml)
    assert len(str(err.value)) < 2_000

    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "big.yaml").write_text(
        yaml.safe_dump({"name": "big", "columns": [{"name": "id"}], huge: 1})
    )
    with pytest.raises(SpecError) as err:
        load_catalog([folder])
    assert str(err.value).startswith(f"{folder / 'big.yaml'}: field 'xxxx")
    assert len(str(err.value)) < 2_000
