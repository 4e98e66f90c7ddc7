"""frontlas: the Redis-backed cluster coordinator."""
