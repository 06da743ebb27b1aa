# Two commands do everything on a fresh machine:  `make book`  and  `make test`.
# Both install what they need first (the Fashion-MNIST Debian package and a virtual environment).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)
DATA   := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: setup data book test unit publish train-all benchmark clean

setup: data $(STAMP)

# The four IDX files: $FMNIST_DATA_DIR or data/ if present, else the Debian package.
data:
	@if [ -n "$$FMNIST_DATA_DIR" ] || [ -f data/train-images-idx3-ubyte.gz ] || [ -f $(DATA) ]; then :; \
	elif command -v apt-get >/dev/null; then \
	  echo "installing the Debian package dataset-fashion-mnist"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist; \
	else \
	  echo "No Fashion-MNIST files found and no apt-get: set FMNIST_DATA_DIR or copy the four .gz files into data/"; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (fmnist-book)" >/dev/null
	touch $(STAMP)

# Render the committed chapters (no execution) into _build/html; warnings are errors.
book: setup
	$(BIN)/jupyter-book build . --warningiserror --keep-going

# Everything CI runs: unit tests, nbval on the committed chapters, smoke runs of every chapter, book build.
test: setup
	$(BIN)/python -m pytest --nbval --nbval-current-env --nbval-cell-timeout=600 tests book

# Quick loop while developing: unit tests only.
unit: setup
	$(BIN)/python -m pytest tests -m "not slow"

# Re-execute every chapter from the store (profile paper) and rebuild the scorecard.
publish: setup
	$(BIN)/fmnist-book publish

benchmark: setup
	$(BIN)/fmnist-book benchmark

clean:
	rm -rf _build
