"""Features wiring: churn, revenue and price blueprints, and the fitted preprocessing artifact."""

import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl
from pydantic import Field, field_validator

from assets.common.artifacts import load_artifact, save_artifact
from assets.common.metadata import markdown_preview
from assets.common.publish import publish_table, row_count
from assets.core.frames import aggregate_in_key_ranges, combine_in_key_ranges, fit_sample
from assets.core.spec import BlueprintFeed, DatasetSpec, SpecError
from assets.enrichment.defs import latest_activity_date
from assets.features.blueprints import (
    BLUEPRINTS,
    CHURN,
    CHURN_FEATURES,
    PRICE,
    REVENUE,
    Blueprint,
    BlueprintError,
    apply_mapping,
    churn_activity,
    churn_scores,
    compatibility,
    default_cutoff,
    feed_input,
    price_by_product,
    price_positions,
    revenue_features,
    roc_auc,
    sparse_fields,
    unmapped_fields,
)
from resources import LakeResource, WarehouseResource

GROUP = "features"
ENRICHMENT = "enrichment"
VALIDATION = "validation"
KINDS = {"polars", "duckdb", "parquet"}
OWNER = ["team:data-science"]
PREPROCESSOR = "churn_preprocessor"
NUMERIC_FEATURES = [f for f in CHURN_FEATURES if f != "engagement_score"] + ["engagement_score"]
CATEGORICAL_FEATURES = ["plan_type"]


class ChurnFeatureConfig(dg.Config):
    """When churn features are measured and how far ahead the label looks."""

    horizon_days: int = Field(
        default=60,
        ge=7,
        le=365,
        description="Churned = no activity in this many days after the cutoff.",
    )
    cutoff_date: str | None = Field(
        default=None,
        description="ISO date of the training cutoff; default: latest activity minus the horizon.",
    )

    @field_validator("cutoff_date")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        if v is not None:
            date.fromisoformat(v)
        return v


class PreprocessingConfig(dg.Config):
    """The preprocessing every model reuses (see assets/features/preprocessing.py)."""

    missing_value_strategy: Literal["auto", "drop", "mean", "median", "mode"] = Field(
        default="auto", description="auto picks the median for skewed numbers, else the mean."
    )
    outlier_method: Literal["iqr", "zscore", "none"] = Field(
        default="iqr", description="Outliers are capped at the learned bounds, not removed."
    )
    encoding_strategy: Literal["auto", "onehot", "ordinal", "target"] = Field(
        default="auto", description="auto: one-hot up to 10 categories, target encoding above."
    )
    scaling_method: Literal["robust", "standard", "minmax", "none"] = Field(default="robust")


def _compatibility_check(
    blueprint: Blueprint, asset_name: str, frames: dict[str, pl.LazyFrame]
) -> dg.AssetCheckResult:
    """Coverage of every required field; a missing field fails the asset with its name."""
    try:
        coverage = compatibility(blueprint, frames)
    except BlueprintError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    sparse = sparse_fields(coverage, blueprint.min_coverage)
    return dg.AssetCheckResult(
        check_name=f"{asset_name}_blueprint_compatible",
        passed=not sparse,
        metadata={
            "coverage": dg.MetadataValue.json(coverage),
            "threshold": dg.MetadataValue.float(blueprint.min_coverage),
            "too_sparse": dg.MetadataValue.json(sparse),
        },
    )


def _compat_spec(asset_name: str, blueprint: Blueprint) -> dg.AssetCheckSpec:
    required = "; ".join(f"{i}: {', '.join(c)}" for i, c in blueprint.inputs.items())
    return dg.AssetCheckSpec(
        f"{asset_name}_blueprint_compatible",
        asset=asset_name,
        blocking=True,
        description=f"The inputs carry every field the {blueprint.name} blueprint requires "
        f"({required}), "
        f"each at least {blueprint.min_coverage:.0%} non-null.",
    )


def _churn_inputs(lake: LakeResource) -> dict[str, pl.LazyFrame]:
    return {
        "customers": lake.scan(VALIDATION, "validated_customers"),
        "orders": lake.scan(ENRICHMENT, "enriched_orders"),
        "support_tickets": lake.scan(VALIDATION, "validated_support_tickets"),
        "usage_events": lake.scan(VALIDATION, "validated_usage_events"),
    }


def _in_customer_ranges(
    frames: dict[str, pl.LazyFrame],
    activity: Callable[[dict[str, pl.LazyFrame]], pl.LazyFrame],
    scratch: Path,
) -> pl.LazyFrame:
    """``activity`` over one range of customers at a time, with their orders, tickets and
    events (only the columns the churn blueprint reads): the per-customer group-bys and joins
    hold a range's customers, not all of them."""
    tables = {name: frame.select(CHURN.inputs[name]) for name, frame in frames.items()}
    return combine_in_key_ranges(tables, "customer_id", activity, scratch)


def _unlabelled_churn(frames: dict[str, pl.LazyFrame], cutoff: date, scratch: Path) -> pl.LazyFrame:
    """The churn blueprint as of ``cutoff`` with no label (scoring), by customer range."""

    def activity(t: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
        inputs = (t["customers"], t["orders"], t["support_tickets"], t["usage_events"])
        return churn_activity(*inputs, cutoff=cutoff, horizon_days=None)

    return churn_scores(_in_customer_ranges(frames, activity, scratch), labelled=False)


CHURN_DEPS = [
    "validated_customers",
    "enriched_orders",
    "validated_support_tickets",
    "validated_usage_events",
]


@dg.asset(
    name="churn_features",
    group_name=GROUP,
    deps=CHURN_DEPS,
    kinds=KINDS,
    owners=OWNER,
    description="Churn blueprint, labelled: nine features per customer as of a cutoff and the "
    "churned label (no activity in the horizon after it), in two snapshots one horizon apart "
    "(snapshot = train, holdout). Nothing after a snapshot's cutoff enters its features.",
    check_specs=[
        _compat_spec("churn_features", CHURN),
        dg.AssetCheckSpec(
            "churn_features_no_future_data",
            asset="churn_features",
            blocking=True,
            description="No feature uses activity after the cutoff "
            "(days since last activity >= 0).",
        ),
    ],
)
def churn_features_asset(
    context: dg.AssetExecutionContext,
    config: ChurnFeatureConfig,
    lake: LakeResource,
    warehouse: WarehouseResource,
):
    started = time.perf_counter()
    frames = _churn_inputs(lake)
    check = _compatibility_check(CHURN, "churn_features", frames)
    latest = latest_activity_date(lake)
    cutoff = (
        date.fromisoformat(config.cutoff_date)
        if config.cutoff_date
        else default_cutoff(latest, config.horizon_days)
    )
    train_cutoff = cutoff - timedelta(days=config.horizon_days)
    # Two labelled snapshots one horizon apart: models fit on "train" and are judged on the later
    # "holdout", whose labels lie after anything the train rows could see (time-aware holdout).
    snapshots = (("train", train_cutoff), ("holdout", cutoff))

    def activity(t: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
        inputs = (t["customers"], t["orders"], t["support_tickets"], t["usage_events"])
        return pl.concat(
            churn_activity(*inputs, cutoff=c, horizon_days=config.horizon_days).with_columns(
                pl.lit(name).alias("snapshot")
            )
            for name, c in snapshots
        )

    rows_in = row_count(lake, VALIDATION, "validated_customers")
    with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
        per_customer = _in_customer_ranges(frames, activity, Path(tmp))
        # One snapshot at a time into scratch: ranking both in one query held both at once
        # (at xl, 2.3M customers a snapshot: ~300 MB more).
        parts = []
        for name, _ in snapshots:
            part = Path(tmp) / f"snapshot-{name}.parquet"
            churn_scores(
                per_customer.filter(pl.col("snapshot") == name).drop("snapshot"), labelled=True
            ).with_columns(pl.lit(name).alias("snapshot")).sink_parquet(part, compression="lz4")
            parts.append(part)
        frame = pl.scan_parquet(parts)
        meta = publish_table(
            lake, warehouse, GROUP, "churn_features", frame, rows_in=rows_in, started=started
        )
    out = (
        lake.scan(GROUP, "churn_features")
        .filter(pl.col("snapshot") == "holdout")
        .select("churned", "engagement_score", "days_since_last_activity")
        .collect()
    )
    auc = roc_auc(1 - out["engagement_score"], out["churned"])
    churn_rate = float(out.select(pl.col("churned").cast(pl.Float64).mean()).item() or 0.0)
    min_days = float(out.select(pl.col("days_since_last_activity").min()).item() or 0.0)
    meta.update(
        {
            "cutoff_date": cutoff.isoformat(),
            "train_cutoff_date": train_cutoff.isoformat(),
            "horizon_days": config.horizon_days,
            "churn_rate": dg.MetadataValue.float(round(churn_rate, 4)),
            "engagement_score_auc": dg.MetadataValue.float(round(auc, 4)),
        }
    )
    context.log.info(
        f"Churn features as of {cutoff}: churn rate {churn_rate:.1%}, engagement AUC {auc:.3f}."
    )
    yield dg.MaterializeResult(metadata=meta)
    yield check
    yield dg.AssetCheckResult(
        check_name="churn_features_no_future_data",
        passed=bool((out["days_since_last_activity"] >= 0).all()),
        metadata={"min_days_since_last_activity": dg.MetadataValue.float(min_days)},
    )


@dg.asset(
    name="churn_features_current",
    group_name=GROUP,
    deps=CHURN_DEPS,
    kinds=KINDS,
    owners=OWNER,
    description="Churn blueprint, scoring set: the same nine features for every current customer "
    "as of the latest data, with no label.",
    check_specs=[_compat_spec("churn_features_current", CHURN)],
)
def churn_features_current_asset(lake: LakeResource, warehouse: WarehouseResource):
    started = time.perf_counter()
    frames = _churn_inputs(lake)
    check = _compatibility_check(CHURN, "churn_features_current", frames)
    latest = latest_activity_date(lake)
    rows_in = row_count(lake, VALIDATION, "validated_customers")
    with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
        frame = _unlabelled_churn(frames, latest, Path(tmp))
        meta = publish_table(
            lake,
            warehouse,
            GROUP,
            "churn_features_current",
            frame,
            rows_in=rows_in,
            started=started,
        )
    meta["cutoff_date"] = latest.isoformat()
    yield dg.MaterializeResult(metadata=meta)
    yield check


def _revenue_table(daily: pl.LazyFrame, scratch: Path) -> pl.LazyFrame:
    return revenue_features(daily)


def _price_table(sales: pl.LazyFrame, scratch: Path) -> pl.LazyFrame:
    """Price features with each product's part computed one range of products at a time: at xl
    (50k products, 16M product-days) the whole table in one query peaked at 1,450 MB."""
    columns = PRICE.inputs["product_daily_sales"]
    by_product = aggregate_in_key_ranges(
        sales.select(columns), "product_id", price_by_product, scratch
    )
    return price_positions(by_product)


# Each table blueprint's build: (its input, a scratch folder) -> the features.
TABLE_BUILDS = {"revenue": _revenue_table, "price": _price_table}


def blueprint_table_asset(
    name: str, blueprint: Blueprint, source: str, build, description: str
) -> dg.AssetsDefinition:
    """A blueprint fed by one enrichment table: check compatibility, compute, publish."""

    @dg.asset(
        name=name,
        group_name=GROUP,
        deps=[source],
        kinds=KINDS,
        owners=OWNER,
        description=description,
        check_specs=[_compat_spec(name, blueprint)],
    )
    def _asset(lake: LakeResource, warehouse: WarehouseResource):
        started = time.perf_counter()
        frame = lake.scan(ENRICHMENT, source)
        check = _compatibility_check(blueprint, name, {source: frame})
        rows_in = row_count(lake, ENRICHMENT, source)
        with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
            meta = publish_table(
                lake,
                warehouse,
                GROUP,
                name,
                build(frame, Path(tmp)),
                rows_in=rows_in,
                started=started,
            )
        yield dg.MaterializeResult(metadata=meta)
        yield check

    return _asset


revenue_features_asset = blueprint_table_asset(
    "revenue_features",
    REVENUE,
    "daily_revenue",
    _revenue_table,
    "Revenue blueprint, one row per day: 7/30/90-day moving averages, 1/7/30-day growth, "
    "day-of-week, month and quarter indices, and 30-day volatility.",
)
price_features_asset = blueprint_table_asset(
    "price_features",
    PRICE,
    "product_daily_sales",
    _price_table,
    "Price blueprint, product x week: revenue, price index against the product's median, "
    "demand trend, elasticity indicator and price position within the category.",
)


def preprocessor_path(lake: LakeResource):
    return lake.table_dir(GROUP, PREPROCESSOR)


def load_preprocessor(lake: LakeResource):
    """The latest fitted preprocessing pipeline and its record, as analytics and scoring use it."""
    return load_artifact(preprocessor_path(lake))


# The preprocessing learns medians, quantile bounds, category codes and scales: a few hundred
# thousand rows pin them down, and fitting on 2.3M rows at xl peaked at 1.3 GB (588 MB at large).
PREPROCESSOR_FIT_ROWS = 500_000


@dg.asset(
    name=PREPROCESSOR,
    group_name=GROUP,
    deps=["churn_features"],
    kinds={"sklearn", "python"},
    owners=OWNER,
    description="The scikit-learn preprocessing (impute, cap outliers, encode, scale) fitted on "
    f"the churn training features (at most ~{PREPROCESSOR_FIT_ROWS:,} customers, a fixed sample "
    "by customer id beyond that) and saved as a versioned artifact for analytics and scoring.",
)
def churn_preprocessor_asset(
    context: dg.AssetExecutionContext, config: PreprocessingConfig, lake: LakeResource
) -> dg.MaterializeResult:
    # scikit-learn is imported in the step, not at load (see assets/analytics/defs.py).
    from assets.features.preprocessing import (
        PreprocessingOptions,
        build_preprocessor,
        to_pandas_inputs,
    )

    started = time.perf_counter()
    train, train_rows = fit_sample(
        lake.scan(GROUP, "churn_features").filter(pl.col("snapshot") == "train"),
        PREPROCESSOR_FIT_ROWS,
    )
    options = PreprocessingOptions(
        missing_value_strategy=config.missing_value_strategy,
        outlier_method=config.outlier_method,
        encoding_strategy=config.encoding_strategy,
        scaling_method=config.scaling_method,
    )
    if options.missing_value_strategy == "drop":
        train = train.drop_nulls([*NUMERIC_FEATURES, *CATEGORICAL_FEATURES])
    pipeline, choices = build_preprocessor(train, NUMERIC_FEATURES, CATEGORICAL_FEATURES, options)
    X = to_pandas_inputs(train, [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES])
    pipeline.fit(X, train["churned"].cast(pl.Int8).to_numpy())
    record = {"choices": choices, "numeric": NUMERIC_FEATURES, "categorical": CATEGORICAL_FEATURES}
    version, artifact = save_artifact(preprocessor_path(lake), "preprocessor", pipeline, record)
    names_out = pipeline.get_feature_names_out()
    names = [str(n) for n in (names_out if names_out is not None else [])]
    context.log.info(
        f"Fitted preprocessing {version} on {train.height:,} rows -> {len(names)} features."
    )
    table = pl.DataFrame(
        [
            {"column": c, **{k: str(v) for k, v in spec.items()}}
            for c, spec in choices["numeric"].items()
        ]
    )
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "artifact": dg.MetadataValue.path(str(artifact)),
            "rows_in": dg.MetadataValue.int(train_rows),
            "rows_out": dg.MetadataValue.int(train.height),
            "fit_rows": dg.MetadataValue.int(train.height),
            "duration_s": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
            "output_features": dg.MetadataValue.json(names),
            "choices": dg.MetadataValue.json(choices),
            "numeric_choices": dg.MetadataValue.md(markdown_preview(table)),
        }
    )


CHURN_TIMESTAMPS = {
    "orders": "order_ts",
    "support_tickets": "opened_ts",
    "usage_events": "event_ts",
}


def latest_in(frames: dict[str, pl.LazyFrame]) -> date:
    """The last day with an order, ticket or event among the churn inputs actually used."""
    stamps = [frames[i].select(pl.col(ts).max().alias("ts")) for i, ts in CHURN_TIMESTAMPS.items()]
    latest = pl.concat(stamps).select(pl.col("ts").max()).collect().item()
    if latest is None:
        raise dg.Failure(
            "No orders, tickets or usage events to measure churn on.", allow_retries=False
        )
    return latest.date()


def build_blueprint_feed_asset(
    spec: DatasetSpec, index: int, feed: BlueprintFeed
) -> dg.AssetsDefinition:
    """``<blueprint>_features_<dataset>``: a blueprint computed on a user dataset through its
    column mapping, checked for compatibility like the built-in blueprint assets."""
    blueprint = BLUEPRINTS[feed.blueprint]
    try:
        input_name = feed_input(blueprint, feed.input)
    except BlueprintError as exc:
        field, _, message = str(exc).partition(": ")
        raise SpecError(
            f"dataset {spec.name!r}: field 'blueprints.{index}.{field}': {message}"
        ) from None
    blueprint = Blueprint(
        blueprint.name, blueprint.inputs, blueprint.optional, min_coverage=feed.min_coverage
    )
    name = f"{feed.blueprint}_features_{spec.name}"
    validated = f"validated_{spec.name}"
    deps = [validated]
    if feed.blueprint == "churn":
        replaced = {"customers": "validated_customers", "orders": "enriched_orders"}.get(
            input_name, f"validated_{input_name}"
        )
        deps += [d for d in CHURN_DEPS if d != replaced]
    mapped_note = ", ".join(f"{f} <- {c}" for f, c in feed.mapping.items()) or "native names"

    @dg.asset(
        name=name,
        group_name=GROUP,
        deps=deps,
        kinds=KINDS,
        owners=[spec.owner],
        description=f"The {feed.blueprint} blueprint on {spec.name} as its {input_name!r} input "
        f"({mapped_note}).",
        check_specs=[_compat_spec(name, blueprint)],
    )
    def _asset(lake: LakeResource, warehouse: WarehouseResource):
        started = time.perf_counter()
        mapped = apply_mapping(lake.scan(VALIDATION, validated), feed.mapping)
        missing = unmapped_fields(blueprint, input_name, mapped.collect_schema().names())
        if missing:
            raise dg.Failure(
                description=f"blueprint {feed.blueprint!r}: field(s) {', '.join(missing)} of "
                f"input {input_name!r} are unmapped; map them in {spec.name}'s spec under "
                f"blueprints.{index}.mapping (field: column)",
                allow_retries=False,
            )
        rows_in = row_count(lake, VALIDATION, validated)
        with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
            if feed.blueprint == "churn":
                frames = {**_churn_inputs(lake), input_name: mapped}
                check = _compatibility_check(blueprint, name, frames)
                frame = _unlabelled_churn(frames, latest_in(frames), Path(tmp))
            else:
                check = _compatibility_check(blueprint, name, {input_name: mapped})
                frame = TABLE_BUILDS[feed.blueprint](mapped, Path(tmp))
            meta = publish_table(
                lake, warehouse, GROUP, name, frame, rows_in=rows_in, started=started
            )
        meta["mapping"] = dg.MetadataValue.json(feed.mapping)
        yield dg.MaterializeResult(metadata=meta)
        yield check

    return _asset


def build_blueprint_feed_assets(catalog: dict[str, DatasetSpec]) -> list[dg.AssetsDefinition]:
    return [
        build_blueprint_feed_asset(spec, i, feed)
        for _, spec in sorted(catalog.items())
        for i, feed in enumerate(spec.blueprints)
    ]


FEATURE_ASSETS = [
    churn_features_asset,
    churn_features_current_asset,
    revenue_features_asset,
    price_features_asset,
    churn_preprocessor_asset,
]
