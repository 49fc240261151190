"""ConfigurableResources: the landing zone, the Parquet lake and the DuckDB warehouse."""

from resources.lake import LakeResource
from resources.landing import LandingZoneResource
from resources.reports import ReportsResource
from resources.warehouse import WarehouseResource

__all__ = ["LakeResource", "LandingZoneResource", "ReportsResource", "WarehouseResource"]
