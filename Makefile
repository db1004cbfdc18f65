# Set-up and everyday commands. Everything installs into a virtual environment ($(VENV)).
#   make demo   install, then train and evaluate GRACE on the bundled Cora
#   make test   install, then run the test suite
#   make docs   build the documentation site into site/ (mkdocs --strict), in its own venv
# Variables a user may override:
#   PYTHON       interpreter used to create the virtual environment        (python3)
#   VENV         where the virtual environment lives                       (.venv)
#   TORCH_SPEC   what to install when torch is missing                     (torch==2.13.0)
#   CONSTRAINTS  constraints file for the torch install                    (constraints.txt)
#   EXTRAS       extras installed with the package          (dev; dev,rec for make test)
#   DOCS_VENV    virtual environment of the docs tools (the `docs` extra)  (.venv-docs)
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
CONSTRAINTS ?= constraints.txt
EXTRAS ?= dev
PYTEST_ARGS ?=

DOCS_VENV ?= .venv-docs

PY := $(VENV)/bin/python
PIN := $(VENV)/torch-pin.txt
DOCS_STAMP := $(DOCS_VENV)/docs-extra.stamp

.PHONY: install demo test bench-grace docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch is installed only when missing; afterwards every pip call is constrained to the
# torch that is installed, so no dependency can swap it for another build.
install: $(PY)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -c $(CONSTRAINTS) "$(TORCH_SPEC)"
	@$(PY) -c "import torch; print('torch==' + torch.__version__.split('+')[0])" > $(PIN)
	PIP_CONSTRAINT=$(abspath $(PIN)) $(PY) -m pip install -c $(PIN) -e ".[$(EXTRAS)]"

demo: install
	$(VENV)/bin/gcl bench grace --dataset cora --out runs/demo

# The tests include the RecBole adapter's, so `make test` installs the `rec` extra as well.
test: EXTRAS = dev,rec
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench-grace: install
	$(PY) benchmarks/grace_cora.py

# Only the packages of the `docs` extra (read from pyproject.toml), not gcl and its torch:
# the API pages are read from the source without importing it.
$(DOCS_STAMP): pyproject.toml
	@test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv $(DOCS_VENV)
	$(PYTHON) -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))\
		['project']['optional-dependencies']['docs']))" > $(DOCS_VENV)/docs-requirements.txt
	$(DOCS_VENV)/bin/python -m pip install -q -r $(DOCS_VENV)/docs-requirements.txt
	@touch $@

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) $(DOCS_VENV) runs build site *.egg-info
