"""Entity contracts as data: the pydantic model of a dataset spec and the catalog loader.

The five built-in entities are declared in YAML under ``assets/core/catalog/`` with the same
model that user datasets use (``datasets/`` or ``$PIPELINE_DATASETS_DIR``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field, ValidationError, field_validator, model_validator

from assets.core.column_parsing import DEFAULT_NULL_VALUES as DEFAULT_NULL_VALUES  # re-exported
from assets.core.column_parsing import NullValues, StrftimeFormat, TimeZone, check_parsing_fields
from assets.core.expressions import ExpressionError, compile_expression
from assets.core.spec_files import (
    SpecError,
    format_validation_error,
    is_pipeline_document,
    read_spec_documents,
    read_yaml,
)
from assets.core.spec_rules import (
    CompareRule,
    ExpressionRule,
    ForeignKeySpec,
    NamedRule,
    Rule,
    identifier,
)
from assets.core.spec_rules import LookupCompareRule as LookupCompareRule  # re-exported
from assets.core.spec_rules import Strict as _Strict
from assets.core.spec_sections import (
    BlueprintFeed,
    FreshnessSpec,
    OutlierSpec,
    PartitionSpec,
    SourceSpec,
    ThresholdSpec,
)

BUILTIN_CATALOG_DIR = Path(__file__).parent / "catalog"

ColumnType = Literal["string", "integer", "float", "boolean", "date", "datetime"]

POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "integer": pl.Int64(),
    "float": pl.Float64(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us"),
}

# Named patterns usable as `pattern: email` in a spec; anything else is taken as a regex.
NAMED_PATTERNS: dict[str, str] = {
    "email": r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$",
    "phone": r"^\+?[0-9][0-9 ().\-]{6,24}[0-9]$",
    "sku": r"^[A-Z]{3}-[0-9]{6}$",
}

Policy = Literal["block", "warn", "auto_fix"]


class ColumnSpec(_Strict):
    name: str
    type: ColumnType = "string"
    required: bool = False
    description: str = ""
    unique: bool = False
    min: float | str | None = None
    max: float | str | None = None
    allowed: list[str | int | float] | None = None
    pattern: str | None = None
    null_values: NullValues | None = None  # None: the dataset's list
    format: StrftimeFormat | None = None
    unit: Literal["s", "ms"] | None = None
    timezone: TimeZone | None = None
    # 317,6 is 317.6 and 1.234,5 is 1234.5 (a comma before the decimals, dots between thousands).
    decimal_comma: bool = False
    # Derived: computed at ingestion from other columns, never read, then typed and validated.
    expression: str | None = None
    pii: bool = False  # personal data: masked wherever people read it (assets/core/privacy.py)

    @field_validator("name")
    @classmethod
    def _identifier(cls, v: str) -> str:
        return identifier("column", v)

    @model_validator(mode="after")
    def _parsing_fits_type(self) -> ColumnSpec:
        return check_parsing_fields(self)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is None or v in NAMED_PATTERNS:
            return v
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"pattern {v!r} is not a valid regular expression: {exc}") from exc
        # Validation matches with Polars' Rust regex engine, which has no look-around or
        # backreferences: ask it now, so such a pattern is refused here and not mid-run.
        try:
            pl.Series([""], dtype=pl.String).str.contains(v)
        except pl.exceptions.ComputeError as exc:
            reason = next(
                (ln[len("error: ") :] for ln in str(exc).splitlines() if ln.startswith("error: ")),
                "not supported",
            )
            raise ValueError(
                f"pattern {v!r} cannot be matched by the validation's regex engine: {reason}"
            ) from None
        return v

    @property
    def polars_type(self) -> pl.DataType:
        return POLARS_TYPES[self.type]

    @property
    def regex(self) -> str | None:
        if self.pattern is None:
            return None
        return NAMED_PATTERNS.get(self.pattern, self.pattern)


class DatasetSpec(_Strict):
    name: str
    description: str = ""
    owner: str = "team:data-platform"
    source: SourceSpec = Field(default_factory=SourceSpec)
    columns: list[ColumnSpec]
    key: list[str] = Field(default_factory=list)
    unique_keys: list[list[str]] = Field(default_factory=list)
    foreign_keys: list[ForeignKeySpec] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    outliers: OutlierSpec | None = None
    thresholds: ThresholdSpec = Field(default_factory=ThresholdSpec)
    policy: Policy = "block"
    partitioning: PartitionSpec | None = None
    freshness: FreshnessSpec = Field(default_factory=FreshnessSpec)
    max_file_bytes: int = Field(5 * 1024**3, gt=0)
    blueprints: list[BlueprintFeed] = Field(default_factory=list)
    null_values: NullValues = Field(default_factory=lambda: list(DEFAULT_NULL_VALUES))

    @field_validator("name")
    @classmethod
    def _identifier(cls, v: str) -> str:
        return identifier("dataset", v)

    @model_validator(mode="after")
    def _columns_exist(self) -> DatasetSpec:
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"columns declared twice: {', '.join(dupes)}")
        known = set(names)

        def need(field: str, col: str) -> None:
            if col not in known:
                hint = difflib.get_close_matches(col, names, n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                raise ValueError(f"{field}: unknown column {col!r}{suggestion}")

        for c in self.key:
            need("key", c)
        for group in self.unique_keys:
            for c in group:
                need("unique_keys", c)
        for fk in self.foreign_keys:
            for c in fk.columns:
                need("foreign_keys.columns", c)
            if len(fk.columns) != len(fk.ref_columns):
                raise ValueError(
                    "foreign_keys: columns and ref_columns must have the same length "
                    f"({fk.columns} vs {fk.ref_columns})"
                )
        declared = [(tuple(fk.columns), fk.references) for fk in self.foreign_keys]
        for i, fk in enumerate(declared):
            if fk in declared[:i]:
                raise ValueError(
                    f"foreign_keys: {', '.join(fk[0])} -> {fk[1]} is declared twice "
                    f"(entries {declared.index(fk) + 1} and {i + 1})"
                )
        # Expressions are compiled and typed against empty columns of the declared types, so a
        # type clash is refused here, naming the field, not in a run.
        typed = {c.name: c.polars_type for c in self.columns if c.expression is None}
        for col in self.columns:
            if col.expression is not None:
                # Derived columns read the file's columns and the derived ones declared before.
                _typed(f"columns.{col.name}.expression", col.expression, typed)
                typed[col.name] = col.polars_type
        for rule in self.rules:
            if isinstance(rule, ExpressionRule):
                field = f"rules.{rule.name}.expression"
                if _typed(field, rule.expression, typed, rule.tolerance) != pl.Boolean:
                    raise ValueError(f"{field}: must be true or false for a row, e.g. a == b")
                continue
            need(f"rules.{rule.name}.left", rule.left)
            if isinstance(rule, CompareRule):
                need(f"rules.{rule.name}.right", rule.right)
            else:
                need(f"rules.{rule.name}.via", rule.via)
        _unique("rules", [r.name for r in self.rules])
        _unique("foreign_keys.name", [fk.name for fk in self.foreign_keys if fk.name])
        # A named foreign key could take the name another one gets from its parent.
        _unique("foreign_keys.name", [self.reference_check_name(fk) for fk in self.foreign_keys])
        if self.outliers:
            for c in self.outliers.columns:
                need("outliers.columns", c)
        if self.partitioning:
            need("partitioning.column", self.partitioning.column)
            if self.source.kind == "stream":
                raise ValueError(
                    "partitioning: a stream dataset lands micro-batches by entry range, not by "
                    "day; remove partitioning"
                )
        if self.freshness.column:
            need("freshness.column", self.freshness.column)
            kind = next(c.type for c in self.columns if c.name == self.freshness.column)
            if kind not in ("date", "datetime"):
                raise ValueError(
                    f"freshness.column: {self.freshness.column!r} is a {kind} column; the "
                    "column dating the rows must be a date or datetime"
                )
        if self.source.watermark_column:
            need("source.watermark_column", self.source.watermark_column)
        for c in self.source.field_map:
            need("source.field_map", c)
        for i, feed in enumerate(self.blueprints):
            for field, c in feed.mapping.items():
                need(f"blueprints.{i}.mapping.{field}", c)
        return self

    def reference_check_name(self, fk: ForeignKeySpec) -> str:
        """``<dataset>_reference_<name>`` for a named foreign key, else
        ``<dataset>_reference_<parent>``; where several unnamed ones reference one parent (a
        flight's origin and destination airports), each adds its columns (``..._by_origin``)."""
        if fk.name:
            return f"{self.name}_reference_{fk.name}"
        name = f"{self.name}_reference_{fk.references}"
        if sum(other.references == fk.references for other in self.foreign_keys) > 1:
            name += "_by_" + "_".join(fk.columns)
        return name

    def rule_check_name(self, rule: NamedRule) -> str:
        return f"{self.name}_rule_{rule.name}"

    @property
    def derived_columns(self) -> list[ColumnSpec]:
        return [c for c in self.columns if c.expression is not None]

    @cached_property
    def column_map(self) -> dict[str, ColumnSpec]:
        return {c.name: c for c in self.columns}

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def file_columns(self) -> list[ColumnSpec]:
        """The columns read from the data (every column but the derived ones)."""
        return [c for c in self.columns if c.expression is None]

    @property
    def landing_folder(self) -> str:
        return self.source.folder or self.name

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.polars_type for c in self.columns}


def _typed(
    field: str, text: str, schema: dict[str, pl.DataType], tolerance: float | None = None
) -> pl.DataType:
    """The type of ``text`` over columns of ``schema``; a ValueError naming ``field`` if it
    does not compile or its types clash (``name + 1`` on a text column)."""
    try:
        expr = compile_expression(text, list(schema), tolerance=tolerance).expr
        return pl.LazyFrame(schema=schema).select(expr.alias("v")).collect_schema()["v"]
    except ExpressionError as exc:
        raise ValueError(f"{field}: {exc}") from None
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ValueError(f"{field}: the column types do not fit: {first}") from None


def _unique(field: str, names: list[str]) -> None:
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{field}: declared twice: {', '.join(dupes)}")


def parse_spec(raw: Mapping[str, Any], path: Path) -> DatasetSpec:
    """Validate one spec mapping; errors name the file and the field."""
    if not isinstance(raw, Mapping):
        raise SpecError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return DatasetSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(format_validation_error(path, exc, DatasetSpec)) from None


def load_spec_file(path: Path) -> DatasetSpec:
    return parse_spec(read_yaml(path), path)


def load_catalog(
    extra_dirs: Iterable[Path] = (), *, refused: dict[Path, str] | None = None
) -> dict[str, DatasetSpec]:
    """Built-in specs plus any user spec directories; names must be unique and FKs resolvable.

    One SpecError lists the problems of every file at once. With ``refused`` (a dict to fill),
    a user's file with problems is left out and its problems recorded there instead (with the
    datasets whose foreign keys need it), so the others still load; built-in ones raise."""
    specs: dict[str, DatasetSpec] = {}
    origin: dict[str, Path] = {}
    errors: dict[Path, list[str]] = {}
    unreadable: set[str] = set()  # names of the datasets whose own file was refused
    for path, raw in read_spec_documents([BUILTIN_CATALOG_DIR, *extra_dirs], errors):
        if is_pipeline_document(raw):
            continue
        try:
            spec = parse_spec(raw, path)
        except SpecError as exc:
            errors.setdefault(path, []).append(str(exc))
            if isinstance(raw, Mapping) and raw.get("name") not in (None, *specs):
                unreadable.add(str(raw["name"]))
            continue
        if spec.name in specs:
            errors.setdefault(path, []).append(
                f"{path}: field 'name': dataset {spec.name!r} is already declared "
                f"in {origin[spec.name]}"
            )
            continue
        specs[spec.name] = spec
        origin[spec.name] = path
    left_out = set(unreadable)
    while True:  # a dataset left out takes those whose foreign keys need it with it
        found = {
            origin[n]: problems
            for n, spec in specs.items()
            if n not in left_out
            and (problems := _reference_problems(spec, specs, left_out, origin))
        }
        for path, problems in found.items():
            errors.setdefault(path, []).extend(problems)
        newly = {n for n in specs if n not in left_out and origin[n] in errors}
        if not newly:
            break
        left_out |= newly
    builtin = [
        e
        for path, lines in errors.items()
        if path.is_relative_to(BUILTIN_CATALOG_DIR)
        for e in lines
    ]
    if errors and (refused is None or builtin):
        raise SpecError("\n".join(line for path in sorted(errors) for line in errors[path]))
    if refused is not None:
        refused.update({path: "\n".join(lines) for path, lines in sorted(errors.items())})
    return {n: spec for n, spec in specs.items() if n not in left_out}


def _reference_problems(
    spec: DatasetSpec, specs: dict[str, DatasetSpec], left_out: set[str], origin: dict[str, Path]
) -> list[str]:
    """What is wrong with ``spec``'s foreign keys, ``left_out`` datasets counted as missing."""
    out = []
    for fk in spec.foreign_keys:
        target = specs.get(fk.references)
        if fk.references in left_out:
            out.append(
                f"{origin[spec.name]}: field 'foreign_keys.references': dataset "
                f"{fk.references!r} was refused (see its own file's problems)"
            )
        elif target is None:
            hint = difflib.get_close_matches(fk.references, list(specs), n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            out.append(
                f"{origin[spec.name]}: field 'foreign_keys.references': unknown dataset "
                f"{fk.references!r}{suggestion}"
            )
        else:
            out += [
                f"{origin[spec.name]}: field 'foreign_keys.ref_columns': dataset "
                f"{fk.references!r} has no column {c!r}"
                for c in fk.ref_columns
                if c not in target.column_map
            ]
    return out
