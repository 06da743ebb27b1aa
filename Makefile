# Two commands do everything on a fresh machine:  `make book`  and  `make test`.
# Both install what they need first (the Fashion-MNIST Debian package and a virtual environment).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)
DATA   := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
# The ipywidgets renderer, served from the book so saved widgets render offline (not committed).
WIDGETS      := _vendor/jupyter-widgets
HTML_MANAGER := @jupyter-widgets/html-manager@1.0.15
REQUIREJS    := requirejs@2.3.7
# MathJax for the book's formulas, served from the book too (the CDN copy is unreachable offline).
MATHJAX      := _vendor/mathjax
MATHJAX_PKG  := mathjax@3.2.2

.PHONY: setup data browser book test unit publish train-all benchmark clean

setup: data $(STAMP) $(WIDGETS)/embed-amd.js $(MATHJAX)/tex-mml-chtml.js

# The four IDX files: $FMNIST_DATA_DIR or data/ if present, else the Debian package.
data:
	@if [ -n "$$FMNIST_DATA_DIR" ] || [ -f data/train-images-idx3-ubyte.gz ] || [ -f $(DATA) ]; then :; \
	elif command -v apt-get >/dev/null; then \
	  echo "installing the Debian package dataset-fashion-mnist"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist; \
	else \
	  echo "No Fashion-MNIST files found and no apt-get: set FMNIST_DATA_DIR or copy the four .gz files into data/"; \
	fi

# Without npm (or its registry) the book still builds; its widgets then load the renderer from a CDN.
$(WIDGETS)/embed-amd.js:
	@mkdir -p $(WIDGETS)
	@if command -v npm >/dev/null && (cd $(WIDGETS) && npm pack --silent $(HTML_MANAGER) $(REQUIREJS) >/dev/null); then \
	  tar -xzf $(WIDGETS)/jupyter-widgets-html-manager-*.tgz -C $(WIDGETS) --strip-components=2 \
	      --exclude='*.map' --exclude='*/embed.js' --exclude='*/libembed-amd.js' package/dist; \
	  tar -xzf $(WIDGETS)/requirejs-*.tgz -C $(WIDGETS) --strip-components=1 package/require.js; \
	  rm -f $(WIDGETS)/*.tgz; \
	else \
	  rm -rf $(WIDGETS); echo "npm could not fetch the ipywidgets renderer: the book's widgets will load it from a CDN"; \
	fi

# The one MathJax bundle the book uses (TeX in, CommonHTML out) and its web fonts; without npm, the CDN copy.
$(MATHJAX)/tex-mml-chtml.js:
	@mkdir -p $(MATHJAX)
	@if command -v npm >/dev/null && (cd $(MATHJAX) && npm pack --silent $(MATHJAX_PKG) >/dev/null); then \
	  tar -xzf $(MATHJAX)/mathjax-*.tgz -C $(MATHJAX) --strip-components=2 \
	      package/es5/tex-mml-chtml.js package/es5/output/chtml/fonts/woff-v2; \
	  rm -f $(MATHJAX)/*.tgz; \
	else \
	  rm -rf $(MATHJAX); echo "npm could not fetch MathJax: the book's formulas will load it from a CDN"; \
	fi

# Headless Chromium for the browser test of the built book.
browser:
	@if command -v chromium >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
	  echo "installing the Debian packages chromium and chromium-driver"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver; \
	else \
	  echo "No chromium and no apt-get: the browser test will be skipped"; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (fmnist-book)" >/dev/null
	touch $(STAMP)

# Render the committed chapters (no execution) into _build/html; warnings are errors.
book: setup
	$(BIN)/jupyter-book build . --warningiserror --keep-going

# Everything CI runs: unit tests, nbval on the committed chapters, smoke runs of every chapter, book build,
# and the built book opened in headless Chromium.
test: setup browser
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
