"""Rate limiter adapters: token buckets in memory, SQLite and Redis."""
