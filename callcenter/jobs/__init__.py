"""The scheduler process and its idempotent jobs."""
