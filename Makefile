# Tessera: the one entry point. Every target is idempotent and incremental.
# Fresh machine: `make demo` (the main job) and `make test` (every test).

PY      := .venv/bin/python
PIP     := .venv/bin/pip
SETUP   := .venv/.stamp-setup
PEERS   := .venv/.stamp-test-peers
NATIVE  := .venv/.stamp-native
JS_DEPS := runtimes/js/node_modules/.package-lock.json
OUT     := out

.PHONY: setup c-build demo test pytest c-test js-test conformance browser-test lint \
        accuracy fuzz wasm wasm-check cpu-classes bench clean

setup: $(SETUP) $(NATIVE) c-build $(JS_DEPS)

# The distribution was named `tessera` before: an old editable install of it is removed first
# (uninstalling it after would take the shared `tessera` command with it).
$(SETUP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PIP) install --quiet --upgrade pip
	$(PIP) uninstall --quiet --yes tessera 2>/dev/null || true
	$(PIP) install --quiet -e '.[dev]'
	touch $@

# tessera._native (the C runtime in-process) is built in place by the editable install, and again
# whenever the C sources change (a new op), so the python-native conformance column runs today's C.
# The package installs without it where it cannot be built; here its absence is an error.
NATIVE_SRC := setup.py tessera/_native.c $(wildcard runtimes/c/src/*.c runtimes/c/src/*.h) runtimes/c/include/tessera.h \
              $(wildcard trainer/native/*.c trainer/native/*.h)
$(NATIVE): $(SETUP) $(NATIVE_SRC)
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	$(PY) -c "import tessera._native, tessera.trainer._fused, tessera.trainer._sampled"
	touch $@

# Peers the tests cross-check against (PyTorch gradients; onnxruntime for the op
# semantics, tests/crosscheck). torch==2.13.0 is the CPU build on this machine
# image's local wheel store; never a bare `torch`. onnx/onnxruntime are pinned to
# the versions tests/crosscheck measured its ulp bounds with.
$(PEERS): $(SETUP)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet onnx==1.23.2 onnxruntime==1.32.0
	touch $@

c-build:
	$(MAKE) -s -C runtimes/c

$(JS_DEPS): runtimes/js/package.json $(wildcard runtimes/js/package-lock.json)
	cd runtimes/js && npm install --no-audit --no-fund --silent
	touch $@

demo: setup
	$(PY) -m tessera demo --out $(OUT)

test: setup $(PEERS)
	$(MAKE) lint
	$(PY) -m pytest -q
	$(MAKE) -C runtimes/c test
	cd runtimes/js && node --test test/*.test.js test/package/
	$(MAKE) conformance
	$(MAKE) browser-test
	$(MAKE) wasm-check
	$(MAKE) cpu-classes

pytest: $(SETUP) $(NATIVE)
	$(PY) -m pytest -q

c-test:
	$(MAKE) -C runtimes/c test

js-test: $(JS_DEPS)
	cd runtimes/js && node --test test/*.test.js test/package/

conformance: setup
	$(PY) -m tessera conformance check-generated
	$(PY) -m tessera conformance run --runtime python --runtime python-native --runtime c --runtime js-purejs \
	    --runtime js-wasm --junit $(OUT)/conformance.xml

browser-test: $(JS_DEPS)
	cd runtimes/js && node --test test/browser/

lint: $(SETUP)
	$(PY) -m ruff check trainer exporter conformance tests bench tessera runtimes setup.py

# The CPU-class-dependent tests again on an emulated AVX2-only x86-64 (qemu-user, Haswell: no
# AVX-512), so that an AVX-512 machine also proves what an AVX2-only one would see: the C runtime's
# dispatched paths and onnxruntime's kernels (which it picks per CPU) in the cross-check. Then on
# an emulated ARM64 (qemu-aarch64): the C runtime's NEON build, unit tests and conformance cases.
QEMU_AVX2 := qemu-x86_64 -cpu Haswell-v4
cpu-classes: setup $(PEERS) c-build
	@command -v qemu-x86_64 >/dev/null || { echo "error: qemu-x86_64 (Debian package qemu-user) is needed" >&2; exit 1; }
	@mkdir -p $(OUT)
	@# qemu warns on stderr about CPUID bits it does not emulate: shown only if the run fails.
	$(QEMU_AVX2) runtimes/c/build/unit-tests 2>$(OUT)/qemu.err || { cat $(OUT)/qemu.err >&2; exit 1; }
	$(QEMU_AVX2) $(PY) -m pytest -q -p no:cacheprovider tests/crosscheck 2>$(OUT)/qemu.err || { cat $(OUT)/qemu.err >&2; exit 1; }
	@# ARM64 (NEON): the C unit tests and every conformance case with the CLI, under qemu-aarch64
	@command -v aarch64-linux-gnu-gcc >/dev/null || { echo "error: aarch64-linux-gnu-gcc (Debian packages gcc-aarch64-linux-gnu libc6-dev-arm64-cross) is needed" >&2; exit 1; }
	$(MAKE) -s -C runtimes/c arm64
	qemu-aarch64 runtimes/c/build/arm64/unit-tests
	$(PY) -m tessera conformance run --runtime "qemu-aarch64 runtimes/c/build/arm64/tessera-run" --jobs 2

# Long runs, outside `make test`.
accuracy:
	$(MAKE) -C runtimes/c accuracy

fuzz:
	$(MAKE) -C runtimes/c fuzz

wasm:
	$(MAKE) -C runtimes/js wasm

wasm-check:
	$(MAKE) -C runtimes/js wasm-check

bench: setup
	$(MAKE) -C bench

clean:
	$(MAKE) -C runtimes/c clean
	rm -rf $(OUT) .pytest_cache
