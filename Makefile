# The two commands of README.md: `make demo` and `make test`.
SWIFT ?= swift
FUZZ_SECONDS ?= 60

.PHONY: demo test bootstrap build fuzz bench

bootstrap:
	scripts/bootstrap

build: bootstrap
	$(SWIFT) build --build-tests

## Installs what is missing, builds once (debug), runs every test, then the decoder fuzzer.
test: build
	$(SWIFT) test --skip-build
	scripts/fuzz-wire $(FUZZ_SECONDS)

## Until the demo lands: the newest runnable thing, the wire benchmark.
demo: bench

fuzz: bootstrap
	scripts/fuzz-wire $(FUZZ_SECONDS)

bench: bootstrap
	$(SWIFT) run -c release fugitive bench wire
