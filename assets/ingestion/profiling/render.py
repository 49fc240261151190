"""A draft spec as YAML a person reviews: one line per column, each followed by a comment with
the evidence it was judged on, and a closing list of what the profiler was unsure of."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

HEADER = (
    "# Draft dataset spec written by pipeline-profile\n# from {source}.\n"
    "# Review every rule, describe every column, then commit it to datasets/.\n"
)


@dataclass
class Draft:
    """A draft spec (``spec``, ready for YAML) and its comments."""

    spec: dict[str, Any]
    source: str
    evidence: dict[str, str] = field(default_factory=dict)  # column -> evidence
    key_comment: str = ""
    fk_comments: list[str] = field(default_factory=list)  # in the order of foreign_keys
    doubts: list[str] = field(default_factory=list)


def _flow(value: Any) -> str:
    return yaml.safe_dump(
        value, default_flow_style=True, sort_keys=False, width=10**6, allow_unicode=True
    ).strip()


def _block(key: str, value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"{key}: {_flow(value)}"
    return yaml.safe_dump({key: value}, sort_keys=False, width=10**6, allow_unicode=True).rstrip(
        "\n"
    )


def _comment(text: str) -> str:
    return "  # " + text.replace("\n", " ") if text else ""


def to_yaml(draft: Draft) -> str:
    """The commented YAML of ``draft``; it loads with ``load_spec_file`` unedited."""
    spec = draft.spec
    lines = [HEADER.format(source=draft.source).rstrip("\n")]
    for key, value in spec.items():
        if key == "columns":
            lines.append("columns:")
            for col in value:
                lines.append(f"  - {_flow(col)}{_comment(draft.evidence.get(col['name'], ''))}")
        elif key == "foreign_keys":
            lines.append("foreign_keys:")
            for fk, note in zip(value, draft.fk_comments, strict=True):
                lines.append(f"  - {_flow(fk)}{_comment(note)}")
        elif key == "key":
            lines.append(f"key: {_flow(value)}{_comment(draft.key_comment)}")
        else:
            lines.append(_block(key, value))
    if draft.doubts:
        lines.append("# Unsure:")
        lines += [f"# - {d}" for d in draft.doubts]
    else:
        lines.append("# Unsure: nothing the profiler could tell.")
    return "\n".join(lines) + "\n"
