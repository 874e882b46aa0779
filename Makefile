# The book's two commands: `make book` (build on the synthetic default) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE  ?= quick
MANIFEST ?= data_manifests/synthetic_$(PROFILE).yaml
# One torch thread per kernel: small CPU models run several times faster than with two threads
# competing with the runner and the renderer on a 2-core machine.
export OMP_NUM_THREADS ?= 1
export HF_HUB_OFFLINE := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book test unit smoke bench venv lock clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the pinned packages into $(VENV) (once)"
	@$(PY) -m pip install --quiet --upgrade "pip>=24"
	@$(PY) -m pip install --quiet -c requirements.lock -e ".[test]"
	@$(PY) -m ra_lib kernel >/dev/null
	@touch $(STAMP)

venv: $(STAMP)

## Build the book: generate the cohort, run every stage with papermill, render HTML to _build/html.
## Prints the stage bar, one line per stage and a summary; the details are in _build/logs/.
book: $(STAMP)
	@$(PY) -m ra_lib run --profile $(PROFILE) --manifest $(MANIFEST)

## Unit tests, then every notebook through papermill on the smoke profile, then the rendered pages in Chromium.
test: $(STAMP)
	$(PY) -m pytest -q -m "not book" tests
	$(PY) -m ra_lib run --profile smoke --manifest data_manifests/synthetic_smoke.yaml --build-dir _build/smoke
	$(PY) -m pytest -q -m book tests

unit: $(STAMP)
	$(PY) -m pytest -q -m "not book" tests

bench: $(STAMP)
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

## Regenerate requirements.lock (every package, pinned) from pyproject.toml, the one source of the pins.
lock:
	$(PYTHON) -m venv $(VENV)-lock && $(VENV)-lock/bin/pip install --quiet pip-tools
	$(VENV)-lock/bin/pip-compile --quiet --extra test --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements.lock pyproject.toml

clean:
	rm -rf _build
