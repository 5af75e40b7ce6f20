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
	@# The console's browser test drives Debian's chromium through Playwright (no browser download).
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) ; } || echo "chromium missing: install the Debian package chromium"
	@# The monitoring tests check deploy/ with promtool (Debian package prometheus) and amtool (prometheus-alertmanager).
	@command -v promtool >/dev/null && command -v amtool >/dev/null || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null) ; } || echo "promtool or amtool missing: install the Debian packages prometheus and prometheus-alertmanager"
	@# tests/deploy check deploy/docker-compose.yml with `docker-compose config` (Debian package docker-compose)
	@# and deploy/k8s with `kubectl kustomize` (kubectl comes with the machine image; not in Debian).
	@command -v docker-compose >/dev/null || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-compose >/dev/null) ; } || echo "docker-compose missing: install the Debian package docker-compose"
	@command -v kubectl >/dev/null || echo "kubectl missing: tests/deploy need it for deploy/k8s (kubernetes.io/docs/tasks/tools)"

demo: install
	$(BIN)/axis demo

test: install-test
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .axis
