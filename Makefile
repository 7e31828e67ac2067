# The two commands a newcomer needs: `make run` and `make test`. Both set everything up first.
# While changing code: `make check` (the fast tier, about 2 minutes); `make test` runs everything.
.PHONY: setup run test check lint tour deb clean

VENV := .venv
PY := $(VENV)/bin/python
# SDL renders offscreen through Mesa when there is no X display (tests, tour, CI).
HEADLESS := env -u DISPLAY

setup:
	@bash scripts/setup.sh

run: setup
	$(VENV)/bin/yizhan kiosk --demo

# Every run in a new random order (pytest-randomly); `make test SEED=N` repeats the order of a run.
ifndef SEED
SEED := $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
endif

# pytest-xdist workers (`make test WORKERS=1` for one process). The tests mostly wait on subprocesses,
# brokers and rendering, so more workers than the 2 cores pay. --dist loadgroup keeps the tests of one
# xdist_group on one worker (pcscd's fixed reader ports; a module's module-scoped fixture: tests/conftest.py).
WORKERS ?= 3
PYTEST := $(HEADLESS) $(PY) -m pytest -p randomly --randomly-seed=$(SEED) -n $(WORKERS) --dist loadgroup
# The slow tiers (markers registered in pyproject.toml): `make check` leaves them to `make test`.
SLOW_TIERS := audit or browser or services or deploy or slow

test: setup
	@echo "make test: random order, seed $(SEED) (repeat with: make test SEED=$(SEED))"
	$(PYTEST) -q --durations=15

# Static checks (configuration in pyproject.toml): ruff's rule set, then mypy (strict on the core).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

check: setup lint
	@echo "make check: the fast tier, random order, seed $(SEED) (make test runs everything)"
	$(PYTEST) -q -m "not ($(SLOW_TIERS))"

tour: setup
	$(HEADLESS) $(VENV)/bin/yizhan kiosk --demo --tour tour
	$(VENV)/bin/yizhan hub web --tour tour/web

# The Debian packages (yizhan, yizhan-station, yizhan-hub) in dist/; built with Debian's python3.
deb: setup
	/usr/bin/python3 deploy/debian/build.py --out dist

clean:
	rm -rf $(VENV) build dist *.egg-info tour

# Packaging and supply chain (issue 23): `make lock` rewrites the hashed locks in lock/ from
# pyproject.toml (uv); `make audit-deps` audits them (scripts/audit_deps.py; docs/dependencies.md);
# `make acceptance` builds the packages and runs the district in a box (tests/acceptance/).
.PHONY: lock audit-deps acceptance
lock: setup
	UV=$(VENV)/bin/uv bash scripts/lock.sh

audit-deps: setup
	$(PY) scripts/audit_deps.py

acceptance: setup
	YIZHAN_ACCEPTANCE=1 $(HEADLESS) $(PY) -m pytest -q -p no:randomly -p no:cacheprovider tests/acceptance
