# The two commands a newcomer needs: `make run` and `make test`. Both set everything up first.
.PHONY: setup run test tour clean

VENV := .venv
PY := $(VENV)/bin/python
# SDL renders offscreen through Mesa when there is no X display (tests, tour, CI).
HEADLESS := env -u DISPLAY

setup:
	@bash scripts/setup.sh

run: setup
	$(VENV)/bin/yizhan kiosk --demo

test: setup
	$(HEADLESS) $(PY) -m pytest -q

tour: setup
	$(HEADLESS) $(VENV)/bin/yizhan kiosk --demo --tour tour

clean:
	rm -rf $(VENV) build *.egg-info tour
