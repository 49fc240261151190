"""The final tables that ``postgres_exports`` publishes to PostgreSQL, with their keys.

All of them are replaced together in one transaction by
``assets.common.postgres.publish_frames``.
These are not shareable exports (``exports.Export``): they are the interface other systems load
(a CRM reads the customers' real contacts here), behind the database's own grants, and keep the
real values as the lake does.
"""

from __future__ import annotations

# The chosen outputs, their lake group and their key (the key becomes the primary key).
POSTGRES_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "validated_customers": ("validation", ("customer_id",)),
    "validated_products": ("validation", ("product_id",)),
    "validated_orders": ("validation", ("order_id",)),
    "churn_features_current": ("features", ("customer_id",)),
    "churn_scores": ("analytics", ("customer_id",)),
    "customer_segments": ("analytics", ("customer_id",)),
    "insights": ("reports", ()),
    "recommendations": ("reports", ()),
}
