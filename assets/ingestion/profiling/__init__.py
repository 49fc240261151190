"""The parts of ``pipeline-profile``: types and formats, bounds, column evidence, keys, foreign
keys and the commented YAML draft. No Dagster here: the profiler runs as a plain command."""
