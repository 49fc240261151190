"""Spec files: YAML read with a safe loader (YAML 1.2 booleans), the documents of spec folders,
and validation errors as one line per problem that names the file and the field.

Shared by the dataset specs (``assets.core.spec``) and the declarative pipelines.
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError


class SpecError(ValueError):
    """A dataset spec that cannot be used; the message names the file and the field."""


# Bounds on what a spec file may make the loader build: aliases may add at most this many nodes
# beyond the document's own (an alias bomb of a few hundred bytes expands to billions), and
# nodes nest at most this deep (the composer recurses).
ALIAS_EXPANSION_LIMIT = 10_000
MAX_NESTING = 64
MESSAGE_CHARS = 300


class RefusedYaml(yaml.YAMLError):
    """A YAML document refused for its shape (an alias bomb, a recursive alias, deep nesting)."""


class SpecLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. Under YAML 1.1 ``on:`` (a join key) or ``no`` (a
    country code) would silently become booleans.

    Each node's expanded size (an alias counted as the whole of what it names) is tracked while
    composing, so an alias bomb is refused as soon as it grows past ``ALIAS_EXPANSION_LIMIT``,
    before anything is built from it.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> expanded size, once composed
        self._distinct = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = self.anchors.get(event.anchor)
            if node is not None and id(node) not in self._sizes:
                raise RefusedYaml(
                    f"line {event.start_mark.line + 1}: an alias inside the node it names "
                    "(a recursive structure)"
                )
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_NESTING:
            line = self.peek_event().start_mark.line + 1
            raise RefusedYaml(f"line {line}: nested deeper than {MAX_NESTING} levels")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return node
        self._distinct += 1
        children = (
            [n for pair in node.value for n in pair]
            if isinstance(node, yaml.MappingNode)
            else node.value
            if isinstance(node, yaml.SequenceNode)
            else []
        )
        size = 1 + sum(self._sizes[id(c)] for c in children)
        if size - self._distinct > ALIAS_EXPANSION_LIMIT:
            mark = node.start_mark
            raise RefusedYaml(
                f"line {mark.line + 1 if mark else '?'}: aliases expand this document past "
                f"{ALIAS_EXPANSION_LIMIT:,} nodes more than it holds (an alias bomb?)"
            )
        self._sizes[id(node)] = size
        return node


SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters: errors name the problem, never echo the input."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


class FastSpecLoader(yaml.CSafeLoader):
    """``SpecLoader``'s YAML 1.2 booleans over libyaml's C parser: for documents already known
    to hold no alias and to nest within ``MAX_NESTING`` (see ``_plain_document``), where
    ``SpecLoader``'s bounds have nothing to refuse. A spec with a million ``allowed`` values
    loads in seconds instead of minutes."""


FastSpecLoader.yaml_implicit_resolvers = SpecLoader.yaml_implicit_resolvers


def _plain_document(text: str) -> bool:
    """Whether libyaml can load ``text`` on its own: it parses, holds no alias and nests within
    ``MAX_NESTING``. Anything else goes to ``SpecLoader``, which refuses it with a reason."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.AliasEvent):
                return False
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:
                    return False
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return False
    return True


def read_yaml(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    loader = FastSpecLoader if _plain_document(text) else SpecLoader
    try:
        return yaml.load(text, Loader=loader)  # safe: both construct with SafeConstructor
    except RefusedYaml as exc:
        raise SpecError(f"{path}: refused: {exc}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {clip(str(exc), 1000)}") from None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (through Optional, list, Union, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _tag(model: type[BaseModel]) -> object:
    kind = model.model_fields.get("kind")
    return kind.default if kind is not None else None


def _fields_at(root: type[BaseModel], parts: list[str]) -> list[str]:
    """The field names valid at ``parts`` (a validation error's location) under ``root``."""
    candidates = [root]
    for part in parts:
        if part.isdigit():
            continue
        # A tagged union puts its tag in the location (rules.0.compare.bogus): keep the
        # members the tag names. The tag comes first: a member may have a field of its name.
        tagged = [m for m in candidates if _tag(m) == part]
        if tagged:
            candidates = tagged
            continue
        holders = [m for m in candidates if part in m.model_fields]
        if not holders:
            return []
        candidates = [m for h in holders for m in _models_in(h.model_fields[part].annotation)]
    return sorted({f for m in candidates for f in m.model_fields})


_FIELD_FIRST = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*): (.+)$", re.S)


def format_validation_error(path: Path, exc: ValidationError, root: type[BaseModel]) -> str:
    lines = []
    for err in exc.errors():
        parts = [str(p) for p in err["loc"]]
        # A tagged union repeats the tag (steps.0.join.join.on): say it once.
        parts = [clip(p, 80) for i, p in enumerate(parts) if i == 0 or p != parts[i - 1]]
        msg = clip(err["msg"].removeprefix("Value error, "))
        # Model-level rules name their field first ("key: unknown column ..."): point there.
        named = _FIELD_FIRST.match(msg) if err["type"] == "value_error" else None
        if named:
            parts, msg = [*parts, *named.group(1).split(".")], named.group(2)
        loc = ".".join(parts) or "<root>"
        if err["type"] == "literal_error" and isinstance(err.get("input"), str):
            allowed = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
            hint = difflib.get_close_matches(err["input"], allowed, n=1)
            if hint and len(allowed) > 2:  # two choices are both named in the message already
                msg = f"{msg}; did you mean {hint[0]!r}?"
        if err["type"] == "extra_forbidden" and parts:
            valid = _fields_at(root, parts[:-1])
            hint = difflib.get_close_matches(parts[-1], valid, n=1)
            msg = f"unknown field {parts[-1]!r}" + (
                f"; did you mean {hint[0]!r}?" if hint else f"; expected one of {', '.join(valid)}"
            )
        lines.append(f"{path}: field '{loc}': {msg}")
    return "\n".join(lines)


def spec_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def is_pipeline_document(raw: Any) -> bool:
    """A declarative pipeline (top-level ``pipeline:``), which shares the spec folders."""
    return isinstance(raw, Mapping) and "pipeline" in raw


def read_spec_documents(
    directories: Iterable[Path], errors: dict[Path, list[str]] | None = None
) -> list[tuple[Path, Any]]:
    """Every YAML document in ``directories`` (sorted by file name), parsed but not validated.
    With ``errors``, a file that cannot be read as YAML is recorded there instead of raised."""
    out = []
    for directory in directories:
        for path in spec_files(directory) if directory.is_dir() else ():
            try:
                out.append((path, read_yaml(path)))
            except SpecError as exc:
                if errors is None:
                    raise
                errors.setdefault(path, []).append(str(exc))
    return out
