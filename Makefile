# Two entry points: `make demo` runs the exchange on the embedded default, `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@# The interop tests check our signatures against the independent xmlsec1 tool.
	@command -v xmlsec1 >/dev/null || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq xmlsec1 >/dev/null) ; } || echo "xmlsec1 missing: install the Debian package xmlsec1"

demo: install
	$(BIN)/axis demo

test: install-test
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .axis
