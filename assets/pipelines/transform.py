"""Declarative pipelines compiled to Polars: steps on LazyFrames, checks, destination files.

``compile_pipeline`` runs every step once on empty frames typed from the dataset specs, so a bad
column name, a bad expression or a type clash is refused when definitions load, with the step
and the nearest valid name. The very same code then runs on the lake tables.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ValidationError

from assets.core.expressions import ExpressionError, compile_expression
from assets.core.spec import DatasetSpec
from assets.core.spec_files import (
    SpecError,
    clip,
    format_validation_error,
    is_pipeline_document,
    read_spec_documents,
)
from assets.core.writers import atomic_target, neutralise_formulas, write_frame
from assets.pipelines.checks import check_name
from assets.pipelines.spec import (
    AggregateStep,
    DeduplicateStep,
    DeriveStep,
    FilterStep,
    JoinStep,
    PipelineDocument,
    PipelineSpec,
    PivotStep,
    RenameStep,
    SampleStep,
    SelectStep,
    SortStep,
    UnpivotStep,
    WindowSpec,
    WindowStep,
)

Scan = Callable[[str], pl.LazyFrame]
SAMPLE_BUCKETS = 1_000_000


class PipelineError(ValueError):
    """A step that cannot run on its input; the message names the step and the field."""


def _need(columns: Iterable[str], available: Sequence[str], where: str) -> None:
    for c in columns:
        if c not in available:
            hint = difflib.get_close_matches(c, list(available), n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            raise PipelineError(f"{where}: unknown column {c!r}{suggestion}")


def _expr(text: str, available: Sequence[str], where: str) -> pl.Expr:
    try:
        return compile_expression(text, available).expr
    except ExpressionError as exc:
        raise PipelineError(f"{where}: {clip(str(exc))}") from None


def _window(w: WindowSpec, available: Sequence[str], where: str) -> pl.Expr:
    _need([c for c in (w.column, w.order_by) if c], available, where)
    _need(w.partition_by, available, f"{where}.partition_by")
    col = pl.col(w.column) if w.column else None
    partition = w.partition_by or None
    if w.rows is not None:
        assert col is not None and w.order_by is not None  # checked by WindowSpec
        rolled = getattr(col, f"rolling_{w.fn}")(w.rows, min_samples=1)
        return rolled.over(partition, order_by=w.order_by)
    if w.fn == "rank":
        assert w.order_by is not None
        expr = pl.col(w.order_by).rank("ordinal")
        return expr.over(partition) if partition else expr
    if w.fn == "count":
        expr = col.count() if col is not None else pl.len()
        return expr.over(partition) if partition else expr
    assert col is not None
    if w.fn in ("lag", "lead"):
        shifted = col.shift(w.offset if w.fn == "lag" else -w.offset)
        return shifted.over(partition, order_by=w.order_by)
    if w.fn == "cum_sum":
        return col.cum_sum().over(partition, order_by=w.order_by)
    expr = getattr(col, w.fn)()
    return expr.over(partition) if partition else expr


def _aggregate(fn: str, column: str) -> pl.Expr:
    if fn == "count":
        return pl.len() if column == "*" else pl.col(column).count()
    if fn == "n_unique":
        # Distinct values as SQL counts them: Polars' n_unique counts null as one more.
        return pl.col(column).drop_nulls().n_unique()
    return getattr(pl.col(column), fn)()


def apply_step(step: Any, lf: pl.LazyFrame, scan: Scan, where: str) -> pl.LazyFrame:
    names = lf.collect_schema().names()
    if isinstance(step, FilterStep):
        return lf.filter(_expr(step.filter, names, f"{where}.filter"))
    if isinstance(step, SelectStep):
        _need(step.select, names, f"{where}.select")
        return lf.select(step.select)
    if isinstance(step, RenameStep):
        _need(step.rename, names, f"{where}.rename")
        return lf.rename(step.rename)
    if isinstance(step, DeriveStep):
        for out, text in step.derive.items():
            current = lf.collect_schema().names()
            lf = lf.with_columns(_expr(text, current, f"{where}.derive.{out}").alias(out))
        return lf
    if isinstance(step, JoinStep):
        j = step.join
        try:
            right = scan(j.dataset)
        except PipelineError as exc:
            raise PipelineError(f"{where}.join.dataset: {exc}") from None
        right_names = right.collect_schema().names()
        right_on = j.right_on or j.on
        if len(right_on) != len(j.on):
            raise PipelineError(f"{where}.join.right_on: needs as many columns as on ({j.on})")
        _need(j.on, names, f"{where}.join.on")
        _need(right_on, right_names, f"{where}.join.right_on ({j.dataset})")
        extra = (
            j.columns if j.columns is not None else [c for c in right_names if c not in right_on]
        )
        _need(extra, right_names, f"{where}.join.columns ({j.dataset})")
        if j.how in ("semi", "anti"):
            extra = []
        right = right.select([*right_on, *[c for c in extra if c not in right_on]])
        return lf.join(
            right, left_on=j.on, right_on=right_on, how=j.how, suffix=f"_{j.dataset}", coalesce=True
        )
    if isinstance(step, AggregateStep):
        a = step.aggregate
        _need(a.by, names, f"{where}.aggregate.by")
        metrics = []
        for out, fn in a.metrics.items():
            ((name, column),) = fn.items()
            if not (name == "count" and column == "*"):
                _need([column], names, f"{where}.aggregate.metrics.{out}")
            metrics.append(_aggregate(name, column).alias(out))
        # Sorted by the keys, so the same input always gives the same file.
        return lf.group_by(a.by).agg(metrics).sort(a.by, nulls_last=True)
    if isinstance(step, SortStep):
        _need(step.sort.by, names, f"{where}.sort.by")
        desc = step.sort.descending
        if isinstance(desc, list) and len(desc) != len(step.sort.by):
            raise PipelineError(f"{where}.sort.descending: one flag per column in by")
        return lf.sort(step.sort.by, descending=desc, nulls_last=True, maintain_order=True)
    if isinstance(step, DeduplicateStep):
        d = step.deduplicate
        _need(d.subset or [], names, f"{where}.deduplicate.subset")
        _need(d.order_by or [], names, f"{where}.deduplicate.order_by")
        if d.order_by:
            lf = lf.sort(d.order_by, nulls_last=True, maintain_order=True)
        return lf.unique(subset=d.subset, keep=d.keep, maintain_order=True)
    if isinstance(step, PivotStep):
        p = step.pivot
        _need([*p.index, p.on, p.values], names, f"{where}.pivot")
        return lf.with_columns(pl.col(p.on).cast(pl.String)).pivot(
            on=p.on, on_columns=p.columns, index=p.index, values=p.values, aggregate_function=p.agg
        )
    if isinstance(step, UnpivotStep):
        u = step.unpivot
        _need([*u.index, *(u.on or [])], names, f"{where}.unpivot")
        return lf.unpivot(
            on=u.on, index=u.index, variable_name=u.variable_name, value_name=u.value_name
        )
    if isinstance(step, WindowStep):
        w = step.window
        return lf.with_columns(_window(w, names, f"{where}.window").alias(w.name))
    if isinstance(step, SampleStep):
        s = step.sample
        if s.fraction is not None:
            # A hash of the whole row picks it: streaming, and the same rows on every run.
            bucket = pl.struct(pl.all()).hash(seed=s.seed) % SAMPLE_BUCKETS
            return lf.filter(bucket < int(s.fraction * SAMPLE_BUCKETS))
        assert s.n is not None
        return lf.filter(pl.int_range(pl.len()).shuffle(seed=s.seed) < s.n)
    raise PipelineError(f"{where}: unsupported step {type(step).__name__}")  # pragma: no cover


def step_kind(step: Any) -> str:
    return next(iter(type(step).model_fields))


def run_steps(spec: PipelineSpec, scan: Scan) -> pl.LazyFrame:
    lf = scan(spec.source)
    for i, step in enumerate(spec.steps):
        lf = apply_step(step, lf, scan, f"steps.{i}")
        try:
            lf.collect_schema()
        except pl.exceptions.PolarsError as exc:
            first_line = str(exc).splitlines()[0]
            raise PipelineError(f"steps.{i}.{step_kind(step)}: {first_line}") from None
    return lf


@dataclass(frozen=True)
class CompiledPipeline:
    spec: PipelineSpec
    path: Path
    inputs: tuple[str, ...]  # datasets read: the source, then joined ones
    schema: dict[str, pl.DataType]

    def build(self, scan: Scan) -> pl.LazyFrame:
        return run_steps(self.spec, scan)


def dataset_scan_for_schema(catalog: Mapping[str, DatasetSpec]) -> Scan:
    """Empty typed frames standing in for validated tables while compiling."""

    def scan(name: str) -> pl.LazyFrame:
        if name not in catalog:
            hint = difflib.get_close_matches(name, list(catalog), n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            raise PipelineError(f"unknown dataset {name!r}{suggestion}")
        return pl.LazyFrame(schema=catalog[name].polars_schema)

    return scan


def compile_pipeline(
    spec: PipelineSpec, path: Path, catalog: Mapping[str, DatasetSpec]
) -> CompiledPipeline:
    scan = dataset_scan_for_schema(catalog)
    try:
        try:
            scan(spec.source)
        except PipelineError as exc:
            raise PipelineError(f"source: {exc}") from None
        out = run_steps(spec, scan)
        schema = dict(out.collect_schema())
        names = list(schema)
        seen: set[str] = set()
        for i, check in enumerate(spec.checks):
            body = getattr(check, check.kind)
            cols = getattr(body, "columns", None) or (
                [body.column] if hasattr(body, "column") else []
            )
            _need(cols, names, f"checks.{i}.{check.kind}")
            name = check_name(spec, check)
            if name in seen:
                raise PipelineError(f"checks.{i}: a second check named {name!r}; give it a name")
            seen.add(name)
    except PipelineError as exc:
        loc, _, message = str(exc).partition(": ")
        raise SpecError(f"{path}: field 'pipeline.{loc}': {message}") from None
    joins = [s.join.dataset for s in spec.steps if isinstance(s, JoinStep)]
    inputs = tuple(dict.fromkeys([spec.source, *joins]))
    return CompiledPipeline(spec=spec, path=path, inputs=inputs, schema=schema)


def parse_pipeline(raw: Mapping[str, Any], path: Path) -> PipelineSpec:
    try:
        return PipelineDocument.model_validate(raw).pipeline
    except ValidationError as exc:
        raise SpecError(format_validation_error(path, exc, PipelineDocument)) from None


def _claim_targets(
    spec: PipelineSpec, path: Path, written: dict[str, str], catalog: Mapping[str, DatasetSpec]
) -> None:
    """Refuse a destination table that another pipeline writes, or that a dataset reads from."""
    sources = {
        f"postgres {t if '.' in t else f'public.{t}'}": f"the source of dataset {name!r}"
        for name, d in catalog.items()
        if d.source.kind == "postgres" and (t := d.source.table)
    }
    for i, dest in enumerate(spec.destinations):
        target = dest.target(spec.name)
        if target is not None and (owner := written.get(target) or sources.get(target)):
            raise SpecError(f"{path}: field 'pipeline.destinations.{i}.table': {target} is {owner}")
        if target is not None:
            written[target] = f"already written by pipeline {spec.name!r} ({path.name})"


def load_pipelines(
    directories: Iterable[Path],
    catalog: Mapping[str, DatasetSpec],
    *,
    refused: dict[Path, str] | None = None,
) -> list[CompiledPipeline]:
    """Every ``pipeline:`` document in the spec folders, compiled against the catalog. With
    ``refused`` (a dict to fill), a document with a problem is left out and its problem
    recorded there instead of raised."""
    compiled: dict[str, CompiledPipeline] = {}
    written: dict[str, str] = {}  # destination table -> the pipeline that writes it
    # A file that is not YAML is the catalog's to report (it reads the same files first).
    for path, raw in read_spec_documents(directories, None if refused is None else {}):
        if not is_pipeline_document(raw):
            continue
        try:
            spec = parse_pipeline(raw, path)
            if spec.name in compiled or spec.name in catalog:
                where = compiled[spec.name].path if spec.name in compiled else "the catalog"
                raise SpecError(
                    f"{path}: field 'pipeline.name': {spec.name!r} is already declared in {where}"
                )
            _claim_targets(spec, path, written, catalog)
            compiled[spec.name] = compile_pipeline(spec, path, catalog)
        except SpecError as exc:
            if refused is None:
                raise
            refused.setdefault(path, str(exc))
    return list(compiled.values())


# ---------------------------------------------------------------------------- destinations


def write_file(frame: pl.LazyFrame, path: Path, fmt: str) -> Path:
    """Write ``frame`` to ``path`` atomically (a uniquely named temp file, then a rename);
    Parquet and CSV stream, JSON and XML collect. CSV is for people: formulas neutralised."""
    if fmt == "csv":
        frame = neutralise_formulas(frame)
    if fmt in ("parquet", "csv"):
        with atomic_target(path) as tmp:
            if fmt == "parquet":
                frame.sink_parquet(tmp, compression="zstd")
            else:
                frame.sink_csv(tmp, datetime_format="%Y-%m-%dT%H:%M:%S%.6f")
    else:
        write_frame(frame.collect(), path, fmt)
    return path
