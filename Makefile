# kubesim: every target creates .venv and installs what it needs on first use.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# Debian packages the tests use as real peers (a real Prometheus, a real etcd 3.4; chromium
# renders the load-test HTML report)
DEBS := prometheus etcd-server etcd-client chromium

.PHONY: venv system-deps demo test bench bench-scale lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,lint]'
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

system-deps:
	@if command -v prometheus >/dev/null && command -v etcd >/dev/null && command -v promtool >/dev/null \
		&& command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBS) >/dev/null) \
		|| echo "warning: could not install $(DEBS); tests that need them will skip"; \
	else echo "note: not root, so $(DEBS) are not installed; tests that need them will skip"; fi

demo: $(STAMP)
	$(BIN)/kubesim run examples/cluster-laptop.yaml --runtime ray

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q

bench: $(STAMP) system-deps
	$(BIN)/python -m bench.run --out bench/results.json
	$(BIN)/python -m pytest -q -m slow

# the whole cluster at 500 to 5,000 nodes on sim (hours on 2 cores; SCALE_SIZES and
# SCALE_PODS_PER_NODE choose less): section "scale" of bench/results.json, bench/scale.svg;
# SCALE_RUNTIME=ray (SCALE_TIME_SCALE, SCALE_NODES_PER_HOST): on a local Ray, "scale_ray"
bench-scale: $(STAMP)
	$(BIN)/python -m pip install -q py-spy || echo "note: no py-spy, profiles come from cProfile"
	$(BIN)/python -m bench.scale_bench

lint: $(STAMP)
	$(BIN)/ruff check kubesim tests bench

clean:
	rm -rf $(VENV) runs .pytest_cache
