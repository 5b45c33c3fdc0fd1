# bedrock-provisioner: the two commands are `make demo` and `make test`.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell sha1sum tests/emulator/requirements.txt | cut -c1-12)

.PHONY: all venv build test lint unit emulator-contract conformance demo bench clean

all: test

# The local AWS emulator and Python test tools, installed once into .venv (idempotent).
$(STAMP): tests/emulator/requirements.txt
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r tests/emulator/requirements.txt
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

build:
	cargo build --bins --examples

lint:
	cargo fmt --check
	cargo clippy --all-targets --locked -- -D warnings

# Rust unit and integration tests (they start the emulator themselves).
unit: venv
	cargo test --locked

# Contract tests of the emulator's extension, with boto3.
emulator-contract: venv
	$(PYTHON) -m pytest -q tests/emulator

# The official MCP conformance suite (HTTP) and the MCP Inspector CLI (stdio) against the binary;
# installs Node 22 and both tools from npm into .node-tools/ once.
# `cargo test --no-run` builds the binary with the test build's features, so after `unit` nothing is rebuilt
# (a plain `cargo build` resolves other features and recompiled 23 crates, about 1 min and 0.7 GB).
conformance:
	cargo test --locked --no-run
	tests/conformance/run target/debug/bedrock-provisioner

test: venv lint unit emulator-contract conformance

# Give marketing access, end to end: emulator + the real server over stdio + an MCP client.
demo: venv build
	scripts/with-emulator target/debug/examples/demo_session target/debug/bedrock-provisioner

# Start-up time, memory and tool-list size of the release binary, against AWS's IAM MCP server as the peer
# (installed from PyPI into .bench-venv once), then diagnose's concurrency figures.
BENCH_VENV := .bench-venv
$(BENCH_VENV)/.installed: benches/requirements.txt
	test -x $(BENCH_VENV)/bin/python || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r benches/requirements.txt
	touch $@

bench: venv $(BENCH_VENV)/.installed
	cargo build --release --bin bedrock-provisioner
	$(PYTHON) benches/startup.py target/release/bedrock-provisioner 25 --peer $(BENCH_VENV)/bin/awslabs.iam-mcp-server
	cargo test --release --test integration diagnose::bench_ -- --ignored --nocapture

clean:
	cargo clean
	rm -rf $(VENV) $(BENCH_VENV) .node-tools
