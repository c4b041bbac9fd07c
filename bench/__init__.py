"""The benchmark: the project against the seed, a reduced Django reference and a bare Celery client."""
