"""Versioned model artifacts: joblib named by content hash, then a latest.json pointer."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import joblib

from assets.core.storage import LakePath, atomic_write_bytes


def save_artifact(
    directory: LakePath, stem: str, obj: Any, record: dict[str, Any]
) -> tuple[str, LakePath]:
    """Write ``obj`` as ``<stem>-<sha12>.joblib`` and point ``latest.json`` at it.

    The artifact lands (atomically) before the pointer that names it, so a reader following
    ``latest.json`` always finds a complete file. Returns (version, artifact path).
    """
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    blob = buffer.getvalue()
    version = hashlib.sha256(blob).hexdigest()[:12]
    directory.mkdir(parents=True, exist_ok=True)
    artifact = directory / f"{stem}-{version}.joblib"
    pointer = json.dumps(
        {"artifact": artifact.name, "version": version, **record}, indent=1, default=str
    )
    for path, data in ((artifact, blob), (directory / "latest.json", pointer.encode())):
        atomic_write_bytes(path, data)
    return version, artifact


def artifact_record(directory: LakePath) -> dict[str, Any]:
    """The record ``latest.json`` holds (version, artifact name, metrics...), without loading the
    artifact: readers of the figures need not unpickle the model."""
    return json.loads((directory / "latest.json").read_text())


def load_artifact(directory: LakePath) -> tuple[Any, dict[str, Any]]:
    """The artifact ``latest.json`` points at, and the pointer's record."""
    pointer = artifact_record(directory)
    return joblib.load(io.BytesIO((directory / pointer["artifact"]).read_bytes())), pointer
