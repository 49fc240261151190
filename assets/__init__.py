"""The six pipeline stages, one subpackage each: logic as plain Polars functions plus wiring."""
