# The two commands of README.md: `make demo` and `make test`.
SWIFT ?= swift
FUZZ_SECONDS ?= 60

.PHONY: demo test bootstrap build fuzz bench

bootstrap:
	scripts/bootstrap

build: bootstrap
	$(SWIFT) build --build-tests

## Installs what is missing, builds once (debug), runs every test, then the decoder fuzzer.
## The native peers' end-to-end suite runs on its own: beside the CPU-bound corpus tests
## on 2 cores its WebRTC links and timers starve.
test: build
	$(SWIFT) test --skip-build --skip PeerEndToEndTests
	$(SWIFT) test --skip-build --filter PeerEndToEndTests
	scripts/bench-smoke
	scripts/fuzz-wire $(FUZZ_SECONDS)

## Until the demo lands: the newest runnable things, the benchmarks.
demo: bench

fuzz: bootstrap
	scripts/fuzz-wire $(FUZZ_SECONDS)

bench: bootstrap
	$(SWIFT) build -c release --product fugitive
	.build/release/fugitive bench wire
	.build/release/fugitive bench signal --peers 10000
	.build/release/fugitive bench rtc
