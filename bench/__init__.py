"""The benchmark: project vs the seed's way (baseline) vs a bare Celery client (floor)."""
