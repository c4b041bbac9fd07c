# Everything a fresh clone needs, from a machine that has only Python.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SECRET_KEY_FILE := .django-secret-key

export PATH := $(BIN):$(PATH)
# Podman's settings for machines that cannot raise its default limits (see podman/).
export CONTAINERS_CONF ?= $(CURDIR)/podman/containers.conf

.PHONY: help install install-dev run test test-worker test-web test-e2e test-compose test-cluster stand-in-images bench diagram clean

help:
	@echo "make run    start web (http://127.0.0.1:8000) and worker, reading .env when present"
	@echo "make run FLOWER=1   the same, with Flower on http://127.0.0.1:5555 (needs FLOWER_BASIC_AUTH)"
	@echo "make test   run the whole test suite"
	@echo "make test-compose   build and run docker-compose.yml for real (Podman, stand-in images)"
	@echo "make test-cluster   the cluster deployment under load, one fault at a time"

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# A development key, made once and kept out of git; a deployment sets its own.
$(SECRET_KEY_FILE):
	umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@

run: $(VENV)/.installed $(SECRET_KEY_FILE)
	DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$$(cat $(SECRET_KEY_FILE))}" honcho start web worker $(if $(FLOWER),flower)

test: test-worker test-web test-e2e test-compose test-cluster

test-worker: $(VENV)/.installed-dev
	cd rabbitmq_celery && pytest

# On SQLite (the database of `make run`), then on the local PostgreSQL server (the compose
# deployment's database), in a database named after this run so parallel runs never share one.
E2E_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432
test-web: $(VENV)/.installed-dev
	cd web_app && pytest
	cd web_app && DATABASE_URL=$(E2E_POSTGRES_URL)/web_app_$$$$ pytest

test-e2e: $(VENV)/.installed-dev
	pytest tests --ignore=tests/test_compose_deployment.py --ignore=tests/test_cluster_deployment.py

# Local builds of the official images the compose file names, for machines with no
# registry; skips the ones already built.
stand-in-images:
	timeout 2400 stand-in-images/build

# The compose deployment built, started and used (on Podman it builds the stand-in
# images first); --durations gives the build time (the fixture's setup) and each step's.
test-compose: $(VENV)/.installed-dev
	pytest tests/test_compose_deployment.py --durations=0

# The cluster deployment (docker-compose.cluster.yml) losing one part at a time under
# load; prints what became of every submission (on Podman it builds the stand-in images
# first, or reuses them).
test-cluster: $(VENV)/.installed-dev
	pytest tests/test_cluster_deployment.py --durations=0

$(VENV)/.installed-bench: $(VENV)/.installed-dev bench/requirements.txt
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	touch $@

# Project vs the seed's way vs a bare Celery client, against the local RabbitMQ and Redis
# (or CELERY_BROKER_URL / CELERY_RESULT_BACKEND), then the CPU of each request one at a time;
# writes bench/results/. Not part of `make test`.
bench: $(VENV)/.installed-bench
	timeout --signal=INT 900 python -m bench.run
	timeout --signal=INT 300 python -m bench.costs

# The README's architecture picture, drawn from its Graphviz source (Debian package graphviz).
diagram:
	dot -Tpng -o django_redis_celery.png docs/architecture.dot

clean:
	rm -rf .embedded-broker web_app/staticfiles
