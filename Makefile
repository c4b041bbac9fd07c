# Everything a fresh clone needs, from a machine that has only Python.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SECRET_KEY_FILE := .django-secret-key

export PATH := $(BIN):$(PATH)
# Podman's settings for machines that cannot raise its default limits (see podman/).
export CONTAINERS_CONF ?= $(CURDIR)/podman/containers.conf

# The configuration file that run, web, worker and manage read, as honcho does.
ENV_FILE ?= .env

.PHONY: help install install-dev run web worker collector manage purge lint test test-quick test-services test-worker test-web test-e2e test-compose test-cluster stand-in-images bench bench-large-table soak diagram clean reset

help:
	@echo "make run    start web (http://127.0.0.1:8000), worker and collector, reading .env when present; Ctrl-C stops them"
	@echo "make run FLOWER=1   the same, with Flower on http://127.0.0.1:5555 (needs FLOWER_BASIC_AUTH)"
	@echo "make web, make worker, make collector   start one Procfile line alone, with the same configuration"
	@echo "make manage ARGS=\"createsuperuser\"   run web_app's manage.py with the same configuration"
	@echo "make reset  delete the database, the embedded broker's folder and the results file"
	@echo "make purge  drop the messages waiting in the broker's task queue"
	@echo "make lint   ruff and mypy, as CI runs them"
	@echo "make test-quick   the worker's and the web app's own tests on SQLite and the embedded broker (Python only)"
	@echo "make test   the whole test suite, after make test-services"
	@echo "make test-services   install (as root on Debian) and start what make test needs: RabbitMQ, Redis, PostgreSQL, Chromium, Podman"
	@echo "make test-worker, make test-web, make test-e2e   one suite of make test"
	@echo "make test-compose   build and run docker-compose.yml for real (Podman, stand-in images)"
	@echo "make test-cluster   the cluster deployment under load, one fault at a time"
	@echo "make bench  the project against the seed, same run; make soak  20,000 submissions, counting what the web holds"
	@echo "make bench-large-table   a million submissions in the table against none, on SQLite and PostgreSQL"

$(VENV)/.installed: requirements.txt requirements-flower.txt requirements-local.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-local.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# A development key, made once and kept out of git; a deployment sets its own.
$(SECRET_KEY_FILE):
	umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@

# The development key unless the environment sets one; a key in ENV_FILE wins over both.
WITH_DEV_KEY = DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$$(cat $(SECRET_KEY_FILE))}"

# Ctrl-C (or SIGTERM) is how these stop: honcho then stops every process gracefully and
# exits 130 (or 143), which is no failure. The recipe's shell ignores Ctrl-C itself so that
# it can say so to make.
run: $(VENV)/.installed $(SECRET_KEY_FILE)
	@trap '' INT; $(WITH_DEV_KEY) bin/start-procfile -e $(ENV_FILE) web worker collector $(if $(FLOWER),flower); \
	status=$$?; case $$status in 130|143) exit 0;; *) exit $$status;; esac

web worker collector: $(VENV)/.installed $(SECRET_KEY_FILE)
	@trap '' INT; $(WITH_DEV_KEY) bin/start-procfile -e $(ENV_FILE) $@; \
	status=$$?; case $$status in 130|143) exit 0;; *) exit $$status;; esac

manage: $(VENV)/.installed $(SECRET_KEY_FILE)
	@$(WITH_DEV_KEY) honcho -e $(ENV_FILE) run python web_app/manage.py $(ARGS)

# Drop the messages waiting in the task queue of ENV_FILE's broker (Celery's own purge).
purge: $(VENV)/.installed $(SECRET_KEY_FILE)
	@$(WITH_DEV_KEY) honcho -e $(ENV_FILE) run sh -c 'cd rabbitmq_celery && exec celery -A rabbitmq_celery purge -f'

# ruff (lint and format) and mypy with django-stubs and celery-types, as configured in
# pyproject.toml; each Django project is type-checked with its own settings.
MYPY_ENV = DJANGO_SECRET_KEY=lint-only-key
lint: $(VENV)/.installed-dev
	ruff check .
	ruff format --check .
	cd web_app && $(MYPY_ENV) DJANGO_SETTINGS_MODULE=web_app.settings mypy --config-file ../pyproject.toml .
	cd rabbitmq_celery && $(MYPY_ENV) DJANGO_SETTINGS_MODULE=rabbitmq_celery.settings mypy --config-file ../pyproject.toml .
	$(MYPY_ENV) DJANGO_SETTINGS_MODULE=web_app.settings PYTHONPATH=web_app mypy tests harness bench

test: test-services test-worker test-web test-e2e test-compose test-cluster

# The real services and programs the suites use, installed (as root on Debian) and started.
test-services:
	bin/test-services

# The two projects' own tests with nothing but Python: SQLite, the embedded broker, the
# file cache, whatever the shell's environment names.
QUICK_ENV = env -u CELERY_BROKER_URL -u CELERY_RESULT_BACKEND -u CACHE_URL -u DATABASE_URL
test-quick: $(VENV)/.installed-dev
	cd rabbitmq_celery && $(QUICK_ENV) pytest
	cd web_app && $(QUICK_ENV) pytest

test-worker: $(VENV)/.installed-dev
	cd rabbitmq_celery && pytest

# On SQLite (the database of `make run`), then on the local PostgreSQL server (the compose
# deployment's database), in a database named after this run so parallel runs never share one.
E2E_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432
# Without that server the second run is skipped and says so, except with CI=true.
POSTGRES_REACHABLE = python -c 'import sys, psycopg; psycopg.connect(sys.argv[1] + "/postgres", connect_timeout=5).close()'
test-web: $(VENV)/.installed-dev
	cd web_app && pytest
	@if [ "$$CI" = true ] || $(POSTGRES_REACHABLE) "$(E2E_POSTGRES_URL)" 2>/dev/null; then \
		echo "cd web_app && DATABASE_URL=\$$E2E_POSTGRES_URL/web_app_$$$$ pytest"; \
		cd web_app && DATABASE_URL=$(E2E_POSTGRES_URL)/web_app_$$$$ pytest; \
	else \
		echo "SKIPPED the web app's tests on PostgreSQL: needs PostgreSQL, not reachable at E2E_POSTGRES_URL;" \
			"make test-services installs and starts it (as root on Debian)"; \
	fi

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

# Where `make bench` writes its run: a folder git ignores, so that a run leaves the checkout
# clean. To commit a run, copy it over the committed one: cp bench/results/latest/* bench/results/
BENCH_RESULTS_DIR ?= $(CURDIR)/bench/results/latest

# Project vs the seed's way vs a bare Celery client, against the local RabbitMQ and Redis
# (or CELERY_BROKER_URL / CELERY_RESULT_BACKEND), then the CPU of each request one at a time.
# Not part of `make test`.
bench: $(VENV)/.installed-bench
	BENCH_RESULTS_DIR=$(BENCH_RESULTS_DIR) timeout --signal=INT 1800 python -m bench.run
	BENCH_RESULTS_DIR=$(BENCH_RESULTS_DIR) timeout --signal=INT 300 python -m bench.costs

# The project on a table of a million submissions beside one on an empty table, on SQLite and
# on PostgreSQL: submissions/s, the form page of a long history, the collector's sweep and the
# pruning (bench/large_table.py). Not part of `make test`.
bench-large-table: $(VENV)/.installed-bench
	BENCH_RESULTS_DIR=$(BENCH_RESULTS_DIR) timeout --signal=INT 2400 python -m bench.large_table

# Twenty thousand submissions through the real stack (gunicorn with gevent, the worker and the
# collector on the local RabbitMQ and Redis), printing and plotting the web processes' open
# files, RSS and Redis connections and Redis's client count; fails unless they stay flat and
# every submission is answered. Not part of `make test`.
soak: $(VENV)/.installed-bench
	BENCH_RESULTS_DIR=$(BENCH_RESULTS_DIR) timeout --signal=INT 2400 python -m bench.soak

# The README's architecture picture, drawn from its Graphviz source (Debian package graphviz).
diagram:
	dot -Tpng -o django_redis_celery.png docs/architecture.dot

clean:
	rm -rf .embedded-broker web_app/staticfiles

# Back to a fresh clone's state (stop `make run` first): no submissions, no queued
# messages in the embedded broker, no results file. The development key stays.
reset: clean
	rm -f web_app/db.sqlite3 web_app/db.sqlite3-wal web_app/db.sqlite3-shm web_app/db.sqlite3-writer-lock results/results.txt
