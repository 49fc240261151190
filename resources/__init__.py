"""ConfigurableResources: the landing zone, the Parquet lake and the DuckDB warehouse."""

from resources.lake import LakeResource
from resources.landing import LandingZoneResource
from resources.warehouse import WarehouseResource

__all__ = ["LakeResource", "LandingZoneResource", "WarehouseResource"]
