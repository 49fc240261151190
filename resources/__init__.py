"""ConfigurableResources: landing zone, Parquet lake, DuckDB warehouse, reports, S3, PostgreSQL
and REST APIs."""

from resources.lake import LakeResource
from resources.landing import LandingZoneResource
from resources.postgres import PostgresResource
from resources.reports import ReportsResource
from resources.rest_api import RestApiResource
from resources.s3 import S3StorageResource
from resources.warehouse import WarehouseResource

__all__ = [
    "LakeResource",
    "LandingZoneResource",
    "PostgresResource",
    "ReportsResource",
    "RestApiResource",
    "S3StorageResource",
    "WarehouseResource",
]
