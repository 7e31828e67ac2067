# The two commands a newcomer needs: `make run` and `make test`. Both set everything up first.
.PHONY: setup run test tour deb clean

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

test: setup
	@echo "make test: random order, seed $(SEED) (repeat with: make test SEED=$(SEED))"
	$(HEADLESS) $(PY) -m pytest -q -p randomly --randomly-seed=$(SEED)

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
