"""Features wiring: churn, revenue and price blueprints, and the fitted preprocessing artifact."""

import tempfile
import time
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from assets.common.artifacts import save_artifact
from assets.common.inputs import Reads, Table
from assets.common.metadata import markdown_preview
from assets.common.publish import publish_table, row_count
from assets.core.frames import fit_sample
from assets.core.spec import BlueprintFeed, DatasetSpec, SpecError
from assets.enrichment.logic import latest_activity
from assets.features.blueprints import (
    BLUEPRINTS,
    CHURN,
    PRICE,
    REVENUE,
    Blueprint,
    BlueprintError,
    apply_mapping,
    feed_input,
    unmapped_fields,
)
from assets.features.checks import (
    NO_FUTURE_DATA,
    compatibility_result,
    compatibility_spec,
    no_future_data_result,
)
from assets.features.churn import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    PREPROCESSOR,
    TABLE_BUILDS,
    churn_cutoff,
    churn_summary,
    labelled_churn,
    preprocessor_dir,
    snapshot_cutoffs,
    unlabelled_churn,
)
from assets.features.config import ChurnFeatureConfig, PreprocessingConfig
from resources import LakeResource, WarehouseResource

GROUP = "features"
ENRICHMENT = "enrichment"
VALIDATION = "validation"
KINDS = {"polars", "duckdb", "parquet"}
OWNER = ["team:data-science"]

# The lake table behind each input of the churn blueprint.
CHURN_TABLES = {
    "customers": Table(VALIDATION, "validated_customers"),
    "orders": Table(ENRICHMENT, "enriched_orders"),
    "support_tickets": Table(VALIDATION, "validated_support_tickets"),
    "usage_events": Table(VALIDATION, "validated_usage_events"),
}
CHURN_READS = Reads(*CHURN_TABLES.values())


def _churn_inputs(
    reads: Reads, lake: LakeResource, **given: pl.LazyFrame
) -> dict[str, pl.LazyFrame]:
    """Each churn input: the frame ``given`` for it, else a scan of its lake table."""
    return {
        name: given[name] if name in given else reads.scan(lake, table.name)
        for name, table in CHURN_TABLES.items()
    }


def _latest_activity(frames: dict[str, pl.LazyFrame]) -> date:
    """The last day with an order, ticket or event among the churn inputs actually used."""
    latest = latest_activity(frames["orders"], frames["support_tickets"], frames["usage_events"])
    if latest is None:
        raise dg.Failure(
            "No orders, tickets or usage events to measure churn on.", allow_retries=False
        )
    return latest


@dg.asset(
    name="churn_features",
    group_name=GROUP,
    deps=CHURN_READS.deps,
    kinds=KINDS,
    owners=OWNER,
    description="Churn blueprint, labelled: nine features per customer as of a cutoff and the "
    "churned label (no activity in the horizon after it), in two snapshots one horizon apart "
    "(snapshot = train, holdout). Nothing after a snapshot's cutoff enters its features.",
    check_specs=[
        compatibility_spec("churn_features", CHURN),
        NO_FUTURE_DATA,
    ],
)
def churn_features_asset(
    context: dg.AssetExecutionContext,
    config: ChurnFeatureConfig,
    lake: LakeResource,
    warehouse: WarehouseResource,
):
    """The churn blueprint in a train and a holdout snapshot, each with its churned label."""
    started = time.perf_counter()
    frames = _churn_inputs(CHURN_READS, lake)
    check = compatibility_result(CHURN, "churn_features", frames)
    cutoff = churn_cutoff(_latest_activity(frames), config.horizon_days, config.cutoff_date)
    snapshots = snapshot_cutoffs(cutoff, config.horizon_days)
    rows_in = row_count(lake, VALIDATION, "validated_customers")
    with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
        frame = labelled_churn(frames, snapshots, config.horizon_days, Path(tmp))
        meta = publish_table(
            lake, warehouse, GROUP, "churn_features", frame, rows_in=rows_in, started=started
        )
    summary = churn_summary(lake.scan(GROUP, "churn_features"))
    meta.update(
        {
            "cutoff_date": cutoff.isoformat(),
            "train_cutoff_date": snapshots["train"].isoformat(),
            "horizon_days": config.horizon_days,
            "churn_rate": dg.MetadataValue.float(round(summary.churn_rate, 4)),
            "engagement_score_auc": dg.MetadataValue.float(round(summary.engagement_auc, 4)),
        }
    )
    context.log.info(
        f"Churn features as of {cutoff}: churn rate {summary.churn_rate:.1%}, "
        f"engagement AUC {summary.engagement_auc:.3f}."
    )
    yield dg.MaterializeResult(metadata=meta)
    yield check
    yield no_future_data_result(summary)


@dg.asset(
    name="churn_features_current",
    group_name=GROUP,
    deps=CHURN_READS.deps,
    kinds=KINDS,
    owners=OWNER,
    description="Churn blueprint, scoring set: the same nine features for every current customer "
    "as of the latest data, with no label.",
    check_specs=[compatibility_spec("churn_features_current", CHURN)],
)
def churn_features_current_asset(lake: LakeResource, warehouse: WarehouseResource):
    """The churn blueprint for every current customer as of the latest data, unlabelled."""
    started = time.perf_counter()
    frames = _churn_inputs(CHURN_READS, lake)
    check = compatibility_result(CHURN, "churn_features_current", frames)
    latest = _latest_activity(frames)
    rows_in = row_count(lake, VALIDATION, "validated_customers")
    with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
        frame = unlabelled_churn(frames, latest, Path(tmp))
        name = "churn_features_current"
        meta = publish_table(lake, warehouse, GROUP, name, frame, rows_in=rows_in, started=started)
    meta["cutoff_date"] = latest.isoformat()
    yield dg.MaterializeResult(metadata=meta)
    yield check


def blueprint_table_asset(
    name: str, blueprint: Blueprint, source: str, description: str
) -> dg.AssetsDefinition:
    """A blueprint fed by one enrichment table: check compatibility, compute, publish."""
    reads = Reads(Table(ENRICHMENT, source))
    build = TABLE_BUILDS[blueprint.name]

    @dg.asset(
        name=name,
        group_name=GROUP,
        deps=reads.deps,
        kinds=KINDS,
        owners=OWNER,
        description=description,
        check_specs=[compatibility_spec(name, blueprint)],
    )
    def _asset(lake: LakeResource, warehouse: WarehouseResource):
        """The blueprint's features of its enrichment table, checked for compatibility."""
        started = time.perf_counter()
        frame = reads.scan(lake, source)
        check = compatibility_result(blueprint, name, {source: frame})
        rows_in = row_count(lake, ENRICHMENT, source)
        with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
            table = build(frame, Path(tmp))
            meta = publish_table(
                lake, warehouse, GROUP, name, table, rows_in=rows_in, started=started
            )
        yield dg.MaterializeResult(metadata=meta)
        yield check

    return _asset


revenue_features_asset = blueprint_table_asset(
    "revenue_features",
    REVENUE,
    "daily_revenue",
    "Revenue blueprint, one row per day: 7/30/90-day moving averages, 1/7/30-day growth, "
    "day-of-week, month and quarter indices, and 30-day volatility.",
)
price_features_asset = blueprint_table_asset(
    "price_features",
    PRICE,
    "product_daily_sales",
    "Price blueprint, product x week: revenue, price index against the product's median, "
    "demand trend, elasticity indicator and price position within the category.",
)


# The preprocessing learns medians, quantile bounds, category codes and scales: a few hundred
# thousand rows pin them down, and fitting on 2.3M rows at xl peaked at 1.3 GB (588 MB at large).
PREPROCESSOR_FIT_ROWS = 500_000
PREPROCESSOR_READS = Reads(Table(GROUP, "churn_features"))


@dg.asset(
    name=PREPROCESSOR,
    group_name=GROUP,
    deps=PREPROCESSOR_READS.deps,
    kinds={"sklearn", "python"},
    owners=OWNER,
    description="The scikit-learn preprocessing (impute, cap outliers, encode, scale) fitted on "
    f"the churn training features (at most ~{PREPROCESSOR_FIT_ROWS:,} customers, a fixed sample "
    "by customer id beyond that) and saved as a versioned artifact for analytics and scoring.",
)
def churn_preprocessor_asset(
    context: dg.AssetExecutionContext, config: PreprocessingConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """The preprocessing fitted on the churn training snapshot, saved as a versioned artifact."""
    # scikit-learn is imported in the step, not at load (see assets/analytics/defs.py).
    from assets.features.preprocessing import (
        PreprocessingOptions,
        fit_preprocessor,
        numeric_choices,
    )

    started = time.perf_counter()
    train, train_rows = fit_sample(
        PREPROCESSOR_READS.scan(lake, "churn_features").filter(pl.col("snapshot") == "train"),
        PREPROCESSOR_FIT_ROWS,
    )
    options = PreprocessingOptions(**config.model_dump())
    fitted = fit_preprocessor(train, NUMERIC_FEATURES, CATEGORICAL_FEATURES, "churned", options)
    record = {
        "choices": fitted.choices,
        "numeric": NUMERIC_FEATURES,
        "categorical": CATEGORICAL_FEATURES,
    }
    version, artifact = save_artifact(
        preprocessor_dir(lake), "preprocessor", fitted.pipeline, record
    )
    context.log.info(
        f"Fitted preprocessing {version} on {fitted.fit_rows:,} rows -> "
        f"{len(fitted.output_features)} features."
    )
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "artifact": dg.MetadataValue.path(str(artifact)),
            "rows_in": dg.MetadataValue.int(train_rows),
            "rows_out": dg.MetadataValue.int(fitted.fit_rows),
            "fit_rows": dg.MetadataValue.int(fitted.fit_rows),
            "duration_s": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
            "output_features": dg.MetadataValue.json(fitted.output_features),
            "choices": dg.MetadataValue.json(fitted.choices),
            "numeric_choices": dg.MetadataValue.md(
                markdown_preview(numeric_choices(fitted.choices))
            ),
        }
    )


def _feed_reads(validated: str, blueprint: str, input_name: str) -> Reads:
    """The dataset's validated table, and for churn the built-in tables of its other inputs."""
    reads = Reads(Table(VALIDATION, validated))
    if blueprint == "churn":
        reads += [t for name, t in CHURN_TABLES.items() if name != input_name]
    return reads


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
    reads = _feed_reads(validated, feed.blueprint, input_name)
    mapped_note = ", ".join(f"{f} <- {c}" for f, c in feed.mapping.items()) or "native names"

    @dg.asset(
        name=name,
        group_name=GROUP,
        deps=reads.deps,
        kinds=KINDS,
        owners=[spec.owner],
        description=f"The {feed.blueprint} blueprint on {spec.name} as its {input_name!r} input "
        f"({mapped_note}).",
        check_specs=[compatibility_spec(name, blueprint)],
    )
    def _asset(lake: LakeResource, warehouse: WarehouseResource):
        """The blueprint on the dataset through its mapping, checked for compatibility."""
        started = time.perf_counter()
        mapped = apply_mapping(reads.scan(lake, validated), feed.mapping)
        missing = unmapped_fields(blueprint, input_name, mapped.collect_schema().names())
        if missing:
            raise dg.Failure(
                description=f"blueprint {feed.blueprint!r}: field(s) {', '.join(missing)} of "
                f"input {input_name!r} are unmapped; map them in {spec.name}'s spec under "
                f"blueprints.{index}.mapping (field: column)",
                allow_retries=False,
            )
        frames = {input_name: mapped}
        if feed.blueprint == "churn":
            frames = _churn_inputs(reads, lake, **frames)
        check = compatibility_result(blueprint, name, frames)
        rows_in = row_count(lake, VALIDATION, validated)
        with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
            if feed.blueprint == "churn":
                frame = unlabelled_churn(frames, _latest_activity(frames), Path(tmp))
            else:
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
