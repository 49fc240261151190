"""Code every stage shares, with no Dagster import: the dataset spec model, lake storage (local
and S3), file readers and writers, frame helpers and the columns the pipeline adds to rows."""
