# bedrock-provisioner: the two commands are `make demo` and `make test`.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell sha1sum tests/emulator/requirements.txt | cut -c1-12)

.PHONY: all venv build test lint unit browser emulator-contract conformance plugin bundle-check demo bundle dist bench live-check install-check fuzz clean

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
	scripts/long-functions
	scripts/import-cycles --self-test
	scripts/import-cycles

# Rust unit and integration tests (they start the emulator themselves).
unit: venv
	cargo test --locked

# The spend report (`query-costs --html`) and the spend MCP App in headless Chromium from Debian's `chromium`
# package, which scripts/chromium installs with apt-get when it is missing: bars measured in the laid-out DOM, a
# screenshot and a PDF (in target/report-html/), the size and render time of 50 units over 13 months; the App
# under a host made of the MCP Apps SDK's AppBridge (target/mcp-app/).
browser: venv
	scripts/chromium >/dev/null
	cargo test --locked --test integration -- --ignored --nocapture report_html:: mcp_app::

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

# The Claude Code plugin (the repository root) with Claude Code's CLI, installed from npm into .node-tools/
# once: `claude plugin validate` finds nothing to fix, and `claude mcp list` reports the server connected,
# added with `claude mcp add` and installed as the plugin (temporary HOME, no login or API key needed); the
# skill's AWS CLI commands are checked against botocore's models in .venv.
plugin: venv
	cargo test --locked --no-run
	tests/plugin/run target/debug/bedrock-provisioner

# Installing without Rust (tests/bundle/run): the MCP Bundle staged with the debug binary, `mcpb validate`, its
# server started as mcpb resolves the manifest and listed with the MCP Inspector CLI, `mcpb pack`/`unpack`;
# server.json against the MCP Registry's schema (vendored in packaging/schemas).
bundle-check:
	cargo test --locked --no-run
	tests/bundle/run target/debug/bedrock-provisioner

test: venv lint unit browser emulator-contract conformance plugin bundle-check

# Give marketing access, end to end: emulator + the real server over stdio + an MCP client; compact output
# (`make demo DEMO_FLAGS=--json` prints every request and result in full).
demo: venv build
	scripts/with-emulator target/debug/examples/demo_session target/debug/bedrock-provisioner $(DEMO_FLAGS)

# This machine's Rust target triple (evaluated only where used).
HOST = $(shell rustc -vV | sed -n 's/^host: //p')

# The MCP Bundle of the release binary for this machine: target/bundle/bedrock-provisioner-VERSION-HOST.mcpb
# and its .sha256 (a release build, about 10 minutes on 2 cores without a cache: not part of `make test`).
bundle:
	cargo build --release --locked --bin bedrock-provisioner
	scripts/bundle target/release/bedrock-provisioner $(HOST) target/bundle --pack

# This machine's release archive, as the release workflow publishes it for cargo-binstall and by hand:
# target/dist/bedrock-provisioner-VERSION-HOST.tar.gz, its .sha256 checked with `sha256sum -c`, the binary run,
# the binstall templates of Cargo.toml matched (a release build, like `bundle`).
dist:
	cargo build --release --locked --bin bedrock-provisioner
	scripts/dist target/release/bedrock-provisioner $(HOST) target/dist

# A long fuzzing run of every tool's JSON arguments (make test runs 48 cases per tool).
FUZZ_CASES ?= 2000
fuzz:
	FUZZ_CASES=$(FUZZ_CASES) cargo test --locked --test integration fuzz:: -- --nocapture

# Install from the packaged crate (what crates.io would serve) into a temporary root and run `--version`.
# A release build (about 10 minutes on 2 cores without a cache), so it is not part of `make test`.
install-check:
	cargo package --locked --allow-dirty --no-verify
	scripts/install-check

# Read-only, free check of a real AWS account (needs credentials; never run by `make test`): diagnose, and
# verify-access for UNIT when given (KEY_ENV: a variable holding the unit's key, tested with CountTokens).
live-check:
	cargo build --bins
	scripts/live-check target/debug/bedrock-provisioner

# Start-up time, memory and tool-list size of the release binary, against AWS's IAM MCP server as the peer
# (installed from PyPI into .bench-venv once), then diagnose's concurrency figures and 10 runs of a 30-unit,
# two-account fleet apply with no flags under 30 % IAM throttling (each must converge on one run), then fleets of
# 10, 100 and 500 units and one unit by hand with the AWS CLI versus the binary (emulator, 50 ms per AWS call).
BENCH_VENV := .bench-venv
$(BENCH_VENV)/.installed: benches/requirements.txt
	test -x $(BENCH_VENV)/bin/python || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r benches/requirements.txt
	touch $@

bench: venv $(BENCH_VENV)/.installed
	cargo build --release --bin bedrock-provisioner
	cargo build --profile release-baseline --bin bedrock-provisioner
	$(PYTHON) benches/startup.py target/release/bedrock-provisioner 25 \
		--baseline target/release-baseline/bedrock-provisioner --peer $(BENCH_VENV)/bin/awslabs.iam-mcp-server
	cargo test --profile release-baseline --test integration -- --ignored --nocapture diagnose::bench_ fleet::bench_
	$(PYTHON) benches/fleet.py target/release-baseline/bedrock-provisioner --awscli $(BENCH_VENV)/bin/aws

clean:
	cargo clean
	rm -rf $(VENV) $(BENCH_VENV) .node-tools
