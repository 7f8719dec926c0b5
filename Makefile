# Two entry points (see README): `make test` and `make demo`.
# Both create a virtualenv in $(VENV) on first use and install the package into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: test test-fast demo docs lint bench install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,examples]"
	touch $(STAMP)

install: $(STAMP)

PYTEST_ARGS ?= -n 2 --durations=15
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# Day-to-day: everything but the tests marked `slow` (tests/conftest.py), under 3 minutes.
test-fast: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS) -m "not slow"

# The main job: train on built-in data (no download) and write runs/demo/.
DEMO := $(PY) -m tfp_genmodels.cli
demo: $(STAMP)
	rm -rf runs/demo  # always a fresh demo (an interrupted one would need --resume)
	$(DEMO) train --model spline --data moons --epochs 30 --num-train 10000 \
		--num-layers 4 --hidden-units 64,64 --learning-rate 2e-3 --verbose 2 --out runs/demo/moons
	$(DEMO) train --model glow --data digits --epochs 60 --batch-size 64 --num-scales 2 \
		--num-layers 4 --hidden-units 64,64 --learning-rate 1e-3 --verbose 2 --out runs/demo/digits_glow
	$(DEMO) sample --run runs/demo/digits_glow -n 64 --temperature 0.7 --out runs/demo/digits_glow/T0.7
	$(DEMO) train --model vae --data digits --latent-dim 2 --epochs 100 --batch-size 64 \
		--hidden-units 256,256 --verbose 2 --out runs/demo/digits_vae
	for run in moons digits_glow digits_vae; do \
		$(DEMO) export --run runs/demo/$$run --out runs/demo/serving/$$run --version 1 \
			--overwrite || exit 1; done
	@echo "make demo: wrote runs/demo/ (metrics.json, figures, model.keras per run; SavedModels in runs/demo/serving/)"

# Lint: ruff with the rules in pyproject.toml (pyflakes, import order, pyupgrade,
# docstrings and return annotations on public names).
LINT_STAMP := $(VENV)/.lint-stamp
$(LINT_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[lint]"
	touch $(LINT_STAMP)

lint: $(LINT_STAMP)
	$(VENV)/bin/ruff check .

# The documentation site (MkDocs): site/. Fails on any warning.
DOCS_STAMP := $(VENV)/.docs-stamp
$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(PY) -m mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(PY) bench/logdet_scaling.py
	$(PY) bench/toy2d.py
	$(PY) bench/digits.py
	$(PY) bench/speed.py
	$(PY) bench/vae.py
	$(PY) bench/serving.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache runs site
