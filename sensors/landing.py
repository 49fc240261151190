"""The landing-zone sensor: one run per batch of new files, keyed by the files' content hashes.

The cursor (JSON) holds, per dataset, the arrival stamp of the newest file handled and the hashes
of recently requested files. It only moves forward. A file counts as arrived when it appeared in
the folder: locally the later of its mtime and ctime (a copy that preserves an old mtime still
gets a fresh ctime), on S3 its LastModified. The ``run_key`` is derived from the batch's
content hashes, so a repeated tick or a daemon restart never starts a second run for the same
files, and the same bytes dropped again under another name start none.

For a daily-partitioned dataset the sensor reads each new file's event dates (as ingestion
will) and the run covers the days from the batch's first to its last, as one ranged run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from assets.core.s3 import is_s3_uri, split_s3_uri
from assets.core.spec import DatasetSpec
from assets.ingestion.candidates import (
    Deferred,
    LandedFile,
    landing_listing,
    open_landed_file,
    opened_path,
    s3_candidates,
)
from assets.ingestion.landing import sha256_file
from assets.ingestion.partitions import Window, file_event_span, range_tags, window_of
from resources import LandingZoneResource, S3StorageResource

MAX_FILES_PER_TICK = 500
RECENT_HASHES = 2000


@dataclass(frozen=True)
class Arrival:
    stamp: int  # nanoseconds
    rel: str
    local_path: Path | None = None
    bucket: str = ""
    key: str = ""
    landed: LandedFile | None = None  # what the listing saw of a local file


def _local_arrivals(landing: LandingZoneResource, folder: str) -> list[Arrival]:
    # Refusals are ingestion's to report.
    listing = landing_listing(landing.path, folder)
    root = landing.path.resolve()
    return [
        Arrival(
            max(st.st_mtime_ns, st.st_ctime_ns), str(path.relative_to(root)), path, landed=landed
        )
        for path, landed, st in listing.files
    ]


def _s3_arrivals(landing: LandingZoneResource, s3: S3StorageResource, folder: str) -> list[Arrival]:
    bucket, prefix = split_s3_uri(landing.root)
    return [
        Arrival(c.version_ns, c.rel, None, bucket, c.rel[len(f"s3://{bucket}/") :])
        for c in s3_candidates(s3, bucket, prefix, folder)
    ]


Span = tuple[date, date]


def _inspect(
    arrival: Arrival,
    s3: S3StorageResource,
    workdir: Path,
    spec: DatasetSpec,
    window: Window | None,
) -> tuple[str, Span | None]:
    """The file's content hash and, for a partitioned dataset, the days its rows fall on.

    A local file is read through a descriptor of the very file the listing saw, as ingestion
    reads it: one swapped since for a link (to a file outside the zone, to a FIFO that would
    hang the tick) raises Deferred instead of being read."""
    if arrival.landed is not None and arrival.local_path is not None:
        fd = open_landed_file(arrival.landed)
        try:
            path = opened_path(fd, arrival.local_path)
            span = None if window is None else file_event_span(path, spec, window, workdir)
            return sha256_file(path), span
        finally:
            os.close(fd)
    if arrival.local_path is not None:
        path, fetched = arrival.local_path, False
    else:
        name = Path(arrival.key).name or "object"
        path, fetched = s3.download(arrival.bucket, arrival.key, workdir / name), True
    try:
        span = None if window is None else file_event_span(path, spec, window, workdir)
        return sha256_file(path), span
    finally:
        if fetched:
            path.unlink(missing_ok=True)


def plan_dataset(
    spec: DatasetSpec,
    arrivals: list[Arrival],
    state: dict,
    inspector: Callable[[Arrival], tuple[str, Span | None]],
) -> tuple[dg.RunRequest | None, dict, int]:
    """The run to request for one dataset's new files (if any), its new cursor state, and how
    many new files are still waiting for the next tick.

    ``inspector`` gives a file's content hash and, for a daily-partitioned dataset, the first and
    last day its rows fall on; the run then covers the days of the whole batch (one ranged run).
    """
    after = tuple(state.get("after", (0, "")))
    recent: list[str] = list(state.get("recent", []))
    new = sorted((a for a in arrivals if (a.stamp, a.rel) > after), key=lambda a: (a.stamp, a.rel))
    batch, waiting = new[:MAX_FILES_PER_TICK], max(0, len(new) - MAX_FILES_PER_TICK)
    if not batch:
        return None, state, 0
    seen = set(recent)
    hashes = []
    spans: list[Span] = []
    for i, arrival in enumerate(batch):
        try:
            digest, span = inspector(arrival)
        except Deferred:
            # Changed since the listing: the cursor stops before it, so the next tick's
            # listing judges it again (with whatever follows it).
            waiting += len(batch) - i
            batch = batch[:i]
            break
        if digest not in seen:
            hashes.append(digest)
            seen.add(digest)
            if span is not None:
                spans.append(span)
    if not batch:
        return None, state, waiting
    last = batch[-1]
    new_state = {"after": [last.stamp, last.rel], "recent": (recent + hashes)[-RECENT_HASHES:]}
    if not hashes:
        return None, new_state, waiting
    batch_key = hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()[:32]
    request = dg.RunRequest(
        run_key=f"landing:{spec.name}:{batch_key}",
        asset_selection=[
            dg.AssetKey(f"raw_{spec.name}"),
            dg.AssetKey(f"validated_{spec.name}"),
            dg.AssetKey(f"quarantined_{spec.name}"),
        ],
        tags={
            "pipeline/dataset": spec.name,
            "pipeline/new_files": str(len(hashes)),
            **(range_tags(min(s[0] for s in spans), max(s[1] for s in spans)) if spans else {}),
        },
    )
    return request, new_state, waiting


def build_landing_zone_sensor(
    specs: list[DatasetSpec],
    job_name: str,
    interval_s: int = 30,
    partitions_def: dg.DailyPartitionsDefinition | None = None,
) -> dg.SensorDefinition:
    landing_specs = sorted((s for s in specs if s.source.kind == "landing"), key=lambda s: s.name)

    @dg.sensor(
        name="landing_zone_sensor",
        job_name=job_name,
        minimum_interval_seconds=interval_s,
        description="Starts ingest-and-validate for a dataset when new files land in "
        "landing/<dataset>/ (local or S3); one run per batch, keyed by the files' content hashes.",
    )
    def landing_zone_sensor(
        context: dg.SensorEvaluationContext, landing: LandingZoneResource, s3: S3StorageResource
    ) -> dg.SensorResult:
        cursor = json.loads(context.cursor) if context.cursor else {}
        datasets: dict = dict(cursor.get("datasets", {}))
        requests: list[dg.RunRequest] = []
        waiting_total = 0
        on_s3 = is_s3_uri(landing.root)
        window = (
            window_of(partitions_def.start, partitions_def.get_last_partition_key())
            if partitions_def is not None
            else None
        )
        with tempfile.TemporaryDirectory(prefix="landing-sensor-") as tmp:
            for spec in landing_specs:
                arrivals = (
                    _s3_arrivals(landing, s3, spec.landing_folder)
                    if on_s3
                    else _local_arrivals(landing, spec.landing_folder)
                )
                request, state, waiting = plan_dataset(
                    spec,
                    arrivals,
                    datasets.get(spec.name, {}),
                    lambda a, spec=spec: _inspect(
                        a, s3, Path(tmp), spec, window if spec.partitioning else None
                    ),
                )
                datasets[spec.name] = state
                waiting_total += waiting
                if request is not None:
                    requests.append(request)
        if waiting_total:
            context.log.info(f"{waiting_total} more new files wait for the next tick.")
        return dg.SensorResult(
            run_requests=requests,
            cursor=json.dumps({"v": 1, "datasets": datasets}, sort_keys=True),
            skip_reason=None if requests else dg.SkipReason("no new landing files"),
        )

    return landing_zone_sensor
