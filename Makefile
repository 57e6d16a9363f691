# The two commands of README.md: `make demo` and `make test`.
SWIFT ?= swift
FUZZ_SECONDS ?= 60

.PHONY: demo test bootstrap build fuzz bench lint format

bootstrap:
	scripts/bootstrap

## The code's layout is swift-format's with `.swift-format` (150 columns): `make format`
## rewrites it, `make lint` (the first step of `make test`) fails on any difference.
lint:
	$(SWIFT) format lint --strict -r Sources Tests Package.swift

format:
	$(SWIFT) format format -i -r Sources Tests Package.swift

## The tests run in a debug build; every test that starts the `fugitive` binary runs the
## release build (what `make demo` builds and users run): a release-only crash is a crash.
build: bootstrap
	$(SWIFT) build --build-tests
	$(SWIFT) build -c release --product fugitive
	$(SWIFT) build -c release --product fugitive-bench

## Installs what is missing, builds once (debug), runs every test, then the decoder fuzzer
## and the orchestrator's stateful fuzzer (a minute each). Passes by test target:
## 1. the libraries' own tests: wire, store, WebRTC, the orchestrator (CPU-bound corpus
##    tests beside live servers whose suites run one at a time);
## 2. the peers, the gateway and the end-to-end tests (the `fugitive` binaries, headless
##    Chromium, network labs): real orchestrators, WebRTC links and second-long timers,
##    whose timers starve beside the CPU-bound corpus tests on 2 cores;
## 3. the hostile-peer suites (floods, 64 MiB deflate bombs, 30 MB blobs hashed in a debug
##    build), alone: beside the end-to-end tests they made those miss their 5 s peer phase;
## 4. the cluster on PostgreSQL (two live instances, heartbeats, a resume timed against the
##    back-off cap) and the relay-latency test under /v1/graph calls, alone: beside
##    Chromium and full-speed WebRTC transfers they were seconds late, and beside the
##    corpus tests the latency test measures the scheduler, not the lock.
## 5. the churn of connections closed while they gather from STUN, alone: it runs three
##    processes at once on purpose (the libnice race needs busy cores), and beside the live
##    servers' suites it made a 1.5 s resume grace run out.
## 6. the network lab (FugitiveLabTests): namespaces, NAT routers, coturn, `fugitive` peers
##    in every pair of NAT kinds; alone, as the other labs are.
## 7. the churn soak (3 minutes, FUGITIVE_SOAK_SECONDS): `fugitive peer`s joining, fetching,
##    serving, leaving and killed around a long-lived one; alone: it keeps both cores busy.
## A throwaway PostgreSQL (scripts/postgres) runs on a loopback port for the whole run and
## is stopped afterwards, also when a step fails.
## Each pass runs through scripts/test-pass: when one fails, its last lines name the failed
## tests, any fatal error, the crashed thread's first frames and the tests still running.
HOSTILE = HostilePeerTests|HostileSwarmTests
LATENCY = theGraphOfAHugeSwarmDoesNotDelayTheRelay
CHURN = connectionsClosedWhileTheyGatherFromSTUNDoNotCrashTheProcess
SOAK = ChurnSoakTests
test: lint build
	@url="$$(scripts/postgres start)" && trap 'scripts/postgres stop' EXIT && \
	export FUGITIVE_POSTGRES_URL="$$url" FUGITIVE_REQUIRE_POSTGRES=1 FUGITIVE_BINARY="$$(pwd)/.build/release/fugitive" \
	FUGITIVE_BENCH_BINARY="$$(pwd)/.build/release/fugitive-bench" && \
	echo "test: PostgreSQL at $$url" && \
	SWIFT=$(SWIFT) scripts/test-pass --filter '^(FugitiveWireTests|FugitiveStoreTests|FugitiveRTCTests|FugitiveServerTests)\.' --skip '$(LATENCY)|$(CHURN)' && \
	SWIFT=$(SWIFT) scripts/test-pass --filter '^(FugitivePeerTests|FugitiveGatewayTests|FugitiveEndToEndTests)\.' --skip '$(HOSTILE)|$(SOAK)' && \
	SWIFT=$(SWIFT) scripts/test-pass --filter '$(HOSTILE)' && \
	SWIFT=$(SWIFT) scripts/test-pass --filter '^FugitivePostgresTests\.|$(LATENCY)' && \
	SWIFT=$(SWIFT) scripts/test-pass --filter '$(CHURN)' && \
	SWIFT=$(SWIFT) scripts/test-pass --filter '^FugitiveLabTests\.' && \
	FUGITIVE_SOAK_SECONDS=180 SWIFT=$(SWIFT) scripts/test-pass --filter '$(SOAK)' && \
	scripts/bench-smoke
	scripts/fuzz-wire $(FUZZ_SECONDS)
	FUGITIVE_STATE_FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFT=$(SWIFT) scripts/test-pass --filter OrchestratorStateFuzzTests

## A whole swarm on this machine: orchestrator, origin, 8 native peers; live progress and a summary.
demo: bootstrap
	$(SWIFT) build -c release --product fugitive
	.build/release/fugitive demo

fuzz: bootstrap
	scripts/fuzz-wire $(FUZZ_SECONDS)
	$(SWIFT) build --build-tests
	FUGITIVE_STATE_FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFT=$(SWIFT) scripts/test-pass --filter OrchestratorStateFuzzTests

## The benchmarks are `fugitive-bench`; it starts the `fugitive` server beside it.
bench: bootstrap
	$(SWIFT) build -c release --product fugitive
	$(SWIFT) build -c release --product fugitive-bench
	.build/release/fugitive-bench wire
	.build/release/fugitive-bench signal --peers 10000
	.build/release/fugitive-bench rtc
	.build/release/fugitive-bench link
	@url="$$(scripts/postgres start)" && trap 'scripts/postgres stop' EXIT && \
	.build/release/fugitive-bench signal --cluster "$$url?sslmode=disable" --peers 10000
