"""Stream sources: micro-batches from Redis streams and Kafka topics into the lake."""
