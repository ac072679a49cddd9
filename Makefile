# The two commands a newcomer needs: `make demo` and `make test`.
# Each bootstraps its own virtualenv from pinned requirements; nothing global is used
# beyond a Python 3.11+ interpreter.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SAMVENV := .venv-sam
SAM    := $(SAMVENV)/bin/sam
STAMP  := $(VENV)/.installed
SAMSTAMP := $(SAMVENV)/.installed
CHECKOVVENV := .venv-checkov
CHECKOVSTAMP := $(CHECKOVVENV)/.installed
CFN    := .aws-sam/security/template.json

.PHONY: demo test security local-invoke lint typecheck unit integration sweep sam-validate sam-build bench server lock clean

$(STAMP): requirements/dev.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "bluegreen needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .  # .venv/bin/bluegreen
	touch $@

$(SAMSTAMP): requirements/sam.txt
	$(PYTHON) -m venv $(SAMVENV)
	$(SAMVENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/sam.txt
	touch $@

# checkov gets its own venv: its dependencies conflict with the project's pins
$(CHECKOVSTAMP): requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOVVENV)
	$(CHECKOVVENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/checkov.txt
	touch $@

venv: $(STAMP)

## make demo: deploy the bundle into the emulated AWS and run a blue/green switch and a rollback
demo: $(STAMP) $(SAMSTAMP)
	PYTHONPATH=client:layers/core $(PY) -m bluegreen_emulator demo

## make dashboard-picture: run the demo's switches, then draw the stack's dashboard from the
## emulated account's data into docs/dashboard.png (the picture in docs/operations.md)
.PHONY: dashboard-picture
dashboard-picture: $(STAMP) $(SAMSTAMP)
	PYTHONPATH=client:layers/core $(PY) scripts/render_dashboard.py --after-demo --out docs/dashboard.png

## make server: the emulated AWS on 127.0.0.1:$(PORT) (PORT=5005 by default) with the bundle
## deployed; SCALE=0.01 makes a 300 s bake take 3 s (default 0: waits take no time). Its
## temporary files (the example switch request) live in a folder removed when it stops.
PORT ?= 5005
SCALE ?= 0
server: $(STAMP) $(SAMSTAMP)
	@echo "bluegreen CLI, in another terminal:  . $(VENV)/bin/activate   (or run $(VENV)/bin/bluegreen)"
	@echo "                                     export BLUEGREEN_ENDPOINT_URL=http://127.0.0.1:$(PORT)"
	@if [ "$(SCALE)" != 0 ]; then echo "                                     export BLUEGREEN_CLOCK_SCALE=$(SCALE)"; fi
	@tmp=$$(mktemp -d -t bluegreen-server.XXXXXX) && trap 'rm -rf "$$tmp"' EXIT INT TERM && \
	TMPDIR="$$tmp" PYTHONPATH=client:layers/core $(PY) -m bluegreen_emulator serve \
	  --port $(PORT) --scale $(SCALE) $(ARGS)

## make test: lint, type checks, template checks and the whole test suite (`sam validate
## --lint` and `sam build` run inside it: tests/integration/test_sam.py)
test: $(STAMP) $(SAMSTAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@# the template checks (one process) run beside the suite; their output follows it
	@log=$$(mktemp); ( $(MAKE) --no-print-directory security >"$$log" 2>&1 ) & checks=$$!; \
	SAM_CLI=$(abspath $(SAM)) $(PY) -m pytest -n 2 --dist load; suite=$$?; \
	wait $$checks; security=$$?; echo "--- make security"; cat "$$log"; rm -f "$$log"; \
	if [ $$security -ne 0 ]; then echo "make security failed (exit $$security)"; fi; \
	exit $$(( suite != 0 || security != 0 ))

## make security: cfn-lint, checkov and the IAM reference gate on the template as CloudFormation
## (SAM-transformed offline; every statement checked against the Service Authorization Reference)
security: $(STAMP) $(SAMSTAMP) $(CHECKOVSTAMP)
	$(SAMVENV)/bin/python client/bluegreen_security/transform.py template.yaml $(CFN)
	$(VENV)/bin/cfn-lint $(CFN)
	$(PY) -m bluegreen_security.iam_gate $(CFN)
	$(CHECKOVVENV)/bin/checkov --config-file .checkov.yaml --file $(CFN)

unit: $(STAMP) $(SAMSTAMP)
	$(PY) -m pytest -m unit

integration: $(STAMP) $(SAMSTAMP)
	$(PY) -m pytest -m integration

## make sweep: every case of the exhaustive sweeps (a stop at every state, in both orders, for
## every strategy; a fault at every AWS call of both platforms' paths); `make test` runs a
## bounded sample of them
sweep: $(STAMP) $(SAMSTAMP)
	BLUEGREEN_SWEEP=all $(PY) -m pytest -m sweep -n 2 --dist load

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy

sam-build: $(SAMSTAMP)
	$(SAM) build --template template.yaml

## make bench: measured cold init, transitions and cost per strategy, growth, time to rollback,
## and time from green's first 5xx to production restored (per rollback path)
bench: $(STAMP) $(SAMSTAMP)
	PYTHONPATH=client:layers/core $(PY) -m bluegreen_bench

## make local-invoke: each events/*.json to its own function through `sam local invoke` in a
## Lambda image built here (Debian + PyPI's awslambdaric), against the staged emulator, each
## answer judged; one file of each kind by default, ARGS=--events=*.json for all (5 to 16 s
## an invocation, measured), ARGS=serve for the staged emulator alone. Needs root and
## minutes (installs docker.io and debootstrap, may start a dockerd); not in `make test`.
local-invoke: $(STAMP) $(SAMSTAMP)
	PYTHONPATH=client:layers/core $(PY) -m bluegreen_localinvoke $(ARGS)

lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | sed '1i # Generated by `make lock` from requirements/dev.in: the exact set CI installs.' > requirements/dev.txt

clean:
	rm -rf $(VENV) $(SAMVENV) $(CHECKOVVENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
