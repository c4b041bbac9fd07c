"""The benchmark of issue 6: project vs the seed's way (baseline) vs a bare Celery client (floor)."""
