"""The declarative pipeline spec: a source dataset, transformations, destinations, checks.

A pipeline is a YAML file with a top-level ``pipeline:`` key, in the same folder as dataset specs
(``datasets/`` or ``$PIPELINE_DATASETS_DIR``). Each step is a one-key mapping naming its kind::

    pipeline:
      name: revenue_by_region_month
      source: orders
      steps:
        - filter: "status == 'completed'"
        - join: {dataset: customers, on: [customer_id], columns: [region]}
        - derive: {revenue: "quantity * unit_price * (1 - coalesce(discount, 0))"}
        - aggregate: {by: [region, month], metrics: {revenue: {sum: revenue}}}
      destinations: [{format: csv}, {format: postgres, table: analytics.revenue_by_region}]
      checks: [{row_count: {min: 1}}, {uniqueness: {columns: [region, month]}}]
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

IDENT = r"^[a-z][a-z0-9_]{0,62}$"
QUALIFIED = r"^[a-z][a-z0-9_]{0,62}(\.[a-z][a-z0-9_]{0,62})?$"

AggFn = Literal["sum", "mean", "min", "max", "count", "n_unique", "median", "first", "last", "std"]
WindowFn = Literal["sum", "mean", "min", "max", "count", "cum_sum", "rank", "lag", "lead"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JoinSpec(_Strict):
    dataset: str = Field(pattern=IDENT)
    on: list[str] = Field(min_length=1)
    right_on: list[str] | None = None
    how: Literal["left", "inner", "semi", "anti"] = "left"
    columns: list[str] | None = None  # from the joined dataset; default: all but the keys


class AggregateSpec(_Strict):
    by: list[str] = Field(min_length=1)
    # output name -> {function: input column}; ``count: "*"`` counts rows.
    metrics: dict[str, dict[AggFn, str]] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_function_each(self) -> AggregateSpec:
        for out, fn in self.metrics.items():
            if len(fn) != 1:
                raise ValueError(f"metrics.{out}: give exactly one function, e.g. {{sum: revenue}}")
        return self


class SortSpec(_Strict):
    by: list[str] = Field(min_length=1)
    descending: bool | list[bool] = False


class DeduplicateSpec(_Strict):
    subset: list[str] | None = None
    keep: Literal["first", "last", "any", "none"] = "first"
    order_by: list[str] | None = None  # which row is "first": by these columns, else input order


class PivotSpec(_Strict):
    index: list[str] = Field(min_length=1)
    on: str
    values: str
    # The output columns are the values of ``on`` listed here, so the schema is known up front.
    columns: list[str] = Field(min_length=1)
    agg: Literal["sum", "mean", "min", "max", "first", "last", "len"] = "sum"


class UnpivotSpec(_Strict):
    index: list[str] = Field(min_length=1)
    on: list[str] | None = None
    variable_name: str = Field(default="variable", pattern=IDENT)
    value_name: str = Field(default="value", pattern=IDENT)


class WindowSpec(_Strict):
    name: str = Field(pattern=IDENT)
    fn: WindowFn
    column: str | None = None  # not needed for rank and count
    partition_by: list[str] = Field(default_factory=list)
    order_by: str | None = None
    rows: int | None = Field(default=None, ge=1, le=100_000)  # rolling over the last N rows
    offset: int = Field(default=1, ge=1)  # for lag and lead

    @model_validator(mode="after")
    def _complete(self) -> WindowSpec:
        if self.fn not in ("rank", "count") and self.column is None:
            raise ValueError(f"column: the {self.fn} window needs a column")
        if self.fn in ("cum_sum", "rank", "lag", "lead") and self.order_by is None:
            raise ValueError(f"order_by: the {self.fn} window needs an order_by column")
        if self.rows is not None and (self.order_by is None or self.fn not in ROLLING):
            raise ValueError("rows: a rolling window needs order_by and one of sum, mean, min, max")
        if not self.partition_by and self.order_by is None:
            raise ValueError("partition_by: give partition_by, order_by or both")
        return self


ROLLING = ("sum", "mean", "min", "max")


class SampleSpec(_Strict):
    fraction: float | None = Field(default=None, gt=0, le=1)
    n: int | None = Field(default=None, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _one(self) -> SampleSpec:
        if (self.fraction is None) == (self.n is None):
            raise ValueError("fraction: give exactly one of fraction or n")
        return self


class FilterStep(_Strict):
    filter: str


class SelectStep(_Strict):
    select: list[str] = Field(min_length=1)


class RenameStep(_Strict):
    rename: dict[str, Annotated[str, Field(pattern=IDENT)]] = Field(min_length=1)


class DeriveStep(_Strict):
    derive: dict[Annotated[str, Field(pattern=IDENT)], str] = Field(min_length=1)


class JoinStep(_Strict):
    join: JoinSpec


class AggregateStep(_Strict):
    aggregate: AggregateSpec


class SortStep(_Strict):
    sort: SortSpec


class DeduplicateStep(_Strict):
    deduplicate: DeduplicateSpec


class PivotStep(_Strict):
    pivot: PivotSpec


class UnpivotStep(_Strict):
    unpivot: UnpivotSpec


class WindowStep(_Strict):
    window: WindowSpec


class SampleStep(_Strict):
    sample: SampleSpec


STEP_KINDS: dict[str, type[_Strict]] = {
    "filter": FilterStep,
    "select": SelectStep,
    "rename": RenameStep,
    "derive": DeriveStep,
    "join": JoinStep,
    "aggregate": AggregateStep,
    "sort": SortStep,
    "deduplicate": DeduplicateStep,
    "pivot": PivotStep,
    "unpivot": UnpivotStep,
    "window": WindowStep,
    "sample": SampleStep,
}


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value))
    if isinstance(value, BaseModel):
        return next(iter(type(value).model_fields))
    return None


Step = Annotated[
    Annotated[FilterStep, Tag("filter")]
    | Annotated[SelectStep, Tag("select")]
    | Annotated[RenameStep, Tag("rename")]
    | Annotated[DeriveStep, Tag("derive")]
    | Annotated[JoinStep, Tag("join")]
    | Annotated[AggregateStep, Tag("aggregate")]
    | Annotated[SortStep, Tag("sort")]
    | Annotated[DeduplicateStep, Tag("deduplicate")]
    | Annotated[PivotStep, Tag("pivot")]
    | Annotated[UnpivotStep, Tag("unpivot")]
    | Annotated[WindowStep, Tag("window")]
    | Annotated[SampleStep, Tag("sample")],
    Discriminator(_step_kind),
]


# The warehouse schemas the pipeline writes itself (each stage's tables, each pipeline's own
# view in ``pipelines``) and DuckDB's catalogs: a destination there would replace a built-in table.
BUILTIN_SCHEMAS = (
    "ingestion",
    "validation",
    "enrichment",
    "features",
    "analytics",
    "reports",
    "pipelines",
    "information_schema",
    "pg_catalog",
)


class Destination(_Strict):
    """Where the result goes besides the lake (``pipelines.<name>``, always written).

    Files land in ``$PIPELINE_DATA_DIR/reports/pipelines/<name>.<format>``; ``duckdb`` copies the
    result into a warehouse table (``table``, default ``exports.<name>``) in a schema of its own,
    never a built-in one; ``postgres`` replaces ``table`` in one transaction through the
    ``postgres`` resource (``PIPELINE_PG_URL``).
    """

    format: Literal["parquet", "csv", "json", "xml", "duckdb", "postgres"]
    table: str | None = Field(default=None, pattern=QUALIFIED)

    @model_validator(mode="after")
    def _table(self) -> Destination:
        if self.format == "postgres" and self.table is None:
            raise ValueError("table: a postgres destination needs a table, e.g. analytics.revenue")
        if self.format not in ("postgres", "duckdb") and self.table is not None:
            raise ValueError(f"table: a {self.format} destination is a file and takes no table")
        if self.format == "duckdb" and self.table is not None:
            schema = self.table.partition(".")[0] if "." in self.table else "main"
            if schema in BUILTIN_SCHEMAS:
                raise ValueError(
                    f"table: {self.table!r} is in the built-in schema {schema!r}, which the "
                    "pipeline writes itself; put a duckdb destination in a schema of its own "
                    "(the default is exports.<pipeline name>)"
                )
        return self

    def target(self, pipeline: str) -> str | None:
        """``<format> schema.table`` of the table written, or None for a file."""
        table = self.table or (f"exports.{pipeline}" if self.format == "duckdb" else None)
        if table is None:
            return None
        default = "main" if self.format == "duckdb" else "public"
        return f"{self.format} {table if '.' in table else f'{default}.{table}'}"


class CompletenessCheck(_Strict):
    columns: list[str] = Field(min_length=1)
    min: float = Field(default=1.0, ge=0, le=1)


class UniquenessCheck(_Strict):
    columns: list[str] = Field(min_length=1)


class RangeCheck(_Strict):
    column: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bound(self) -> RangeCheck:
        if self.min is None and self.max is None:
            raise ValueError("min: a range check needs min, max or both")
        return self


class RowCountCheck(_Strict):
    min: int = Field(default=1, ge=0)
    max: int | None = Field(default=None, ge=0)


class CheckSpec(_Strict):
    """One check on the result; exactly one kind. Blocking checks also hold back destinations."""

    completeness: CompletenessCheck | None = None
    uniqueness: UniquenessCheck | None = None
    range: RangeCheck | None = None
    row_count: RowCountCheck | None = None
    name: str | None = Field(default=None, pattern=IDENT)
    blocking: bool = True

    @model_validator(mode="after")
    def _exactly_one(self) -> CheckSpec:
        kinds = [k for k in CHECK_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(CHECK_KINDS)} per check (got {len(kinds)})"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in CHECK_KINDS if getattr(self, k) is not None)


CHECK_KINDS = ("completeness", "uniqueness", "range", "row_count")


class PipelineSpec(_Strict):
    name: str = Field(pattern=IDENT)
    description: str = ""
    owner: str = "team:data-platform"
    source: str = Field(pattern=IDENT)
    steps: list[Step] = Field(default_factory=list)
    destinations: list[Destination] = Field(default_factory=list)
    checks: list[CheckSpec] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _known_step_kinds(cls, data: Any) -> Any:
        steps = data.get("steps") if isinstance(data, dict) else None
        for i, step in enumerate(steps or []):
            if not isinstance(step, dict) or len(step) != 1:
                raise ValueError(
                    f"steps.{i}: each step is a mapping with one key, the kind "
                    f"({', '.join(STEP_KINDS)})"
                )
            kind = next(iter(step))
            if kind not in STEP_KINDS:
                hint = difflib.get_close_matches(str(kind), list(STEP_KINDS), n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                raise ValueError(f"steps.{i}: unknown step kind {kind!r}{suggestion}")
        return data


class PipelineDocument(_Strict):
    pipeline: PipelineSpec
