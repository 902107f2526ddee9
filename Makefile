# cloudpost — make run starts the local server, make test is what CI runs.
SHELL := /bin/bash
GO    ?= go
PKGS  := ./...

.PHONY: run test unit services generate check-generate check-fmt vet fuzz bench load load-mysql build lambda lint-openapi js client-test web-test lint-and-js

## run: start the Echo app on 127.0.0.1:8000 with every adapter in memory
run:
	$(GO) run ./apps/server serve

## test: services, formatting, vet, staticcheck, the OpenAPI lint, stale-mock check, race-enabled tests
## (integration tests included), short fuzzing, the TypeScript client's tests and the
## web app's browser tests
test: services check-fmt vet lint-and-js lint-openapi check-generate unit fuzz

## lint-and-js: staticcheck and js side by side (output kept per target):
## the JavaScript tests wait on servers and Chromium for most of their time
## and use under half a core, while staticcheck keeps both cores busy; after
## `make vet` the tests' server build is only a link.
lint-and-js:
	@$(MAKE) --no-print-directory -j2 --output-sync=target lint js

## unit: the race-enabled tests alone; without `make services` first, the
## integration tests skip (or fail, with CI=true) and name the script to run
## Four packages at once on two cores: many tests wait on MariaDB, versitygw
## or a child process, so -p 4 finishes about a quarter sooner than the default.
## -vet=off: `make vet` (which make test runs first) runs every analyzer on
## these packages; go test's own subset would vet the race-instrumented
## dependency graph again (about a tenth of this target's time on a cold cache).
## -ldflags=-w: test binaries without DWARF (stack traces do not need it)
## link about a fifth faster, and there are some forty of them.
unit:
	$(GO) test -race -vet=off -ldflags=-w -count=1 -p 4 -timeout 20m $(PKGS)
	# the pixel-heavy imaging tests skip under the race detector: the package again without it
	$(GO) test -vet=off -ldflags=-w -count=1 ./adapters/imaging/

## services: install (once, cached in ~/.cache/cloudpost) and start what
## the integration tests use: MariaDB, versitygw, cognito-local, the Lambda
## Runtime Interface Emulator, wrk (scripts/ci/*.sh, each idempotent and
## quick when already done)
services:
	@set -e; for script in scripts/ci/*.sh; do echo "== $$script"; bash "$$script"; done

check-fmt:
	@out=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*' -not -path './dist/*' | xargs gofmt -l); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

## lint: staticcheck (pinned as a tool in go.mod)
.PHONY: lint
lint:
	$(GO) tool staticcheck $(PKGS)

## lint-openapi: @redocly/cli lint of apps/httpapi/internal/apidoc/openapi.yaml
## with the recommended rules (redocly.yaml); any error or warning fails it
## (installed by scripts/ci/redocly.sh)
lint-openapi:
	@redocly="$${CLOUDPOST_CACHE:-$$HOME/.cache/cloudpost}/npm-redocly/node_modules/.bin/redocly"; \
	[ -x "$$redocly" ] || { echo "lint-openapi: $$redocly missing; run bash scripts/ci/redocly.sh"; exit 1; }; \
	out=$$(REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true "$$redocly" lint --config redocly.yaml --format stylish --max-problems 1000); rc=$$?; \
	if [ -n "$$out" ]; then echo "$$out"; fi; \
	if [ $$rc -ne 0 ] || [ -n "$$out" ]; then echo "lint-openapi: redocly found problems (warnings fail too)"; exit 1; fi

## js: the TypeScript client (clients/typescript) and the React example app
## (examples/web), each installed with `npm ci` (from npm's cache in
## ~/.npm once warm), tested against real servers started by the tests
js: client-test web-test

## client-test: the client's generated types match openapi.yaml, then its
## build and tests against `cloudpost serve` (memory and S3 modes)
client-test:
	cd clients/typescript && npm ci --no-audit --no-fund --prefer-offline --loglevel=error && npm run check-generate && npm test

## web-test: the React app built and driven in headless Chromium
## (playwright-core + Debian's chromium) in memory and S3 modes, plus the
## CORS refusal; screenshots in dist/browser-screenshots/
web-test: client-test
	cd examples/web && npm ci --no-audit --no-fund --prefer-offline --loglevel=error && npm run test:browser

## generate: regenerate the gomock mocks of every port
generate:
	$(GO) generate $(PKGS)

# Fails (and leaves the regenerated files) when mocks/ does not match the ports.
check-generate:
	@tmp=$$(mktemp -d); cp -r mocks "$$tmp/"; $(GO) generate $(PKGS); \
	if ! diff -r "$$tmp/mocks" mocks >/dev/null; then \
		echo "mocks/ was stale: 'go generate ./...' changed it; commit the result"; diff -r "$$tmp/mocks" mocks | head -40; rm -rf "$$tmp"; exit 1; fi; \
	rm -rf "$$tmp"

## fuzz: short bounded fuzz runs of the parsers that face clients (-vet=off:
## make vet has vetted them; go test would vet their instrumented
## dependencies again). Budgets
## are execution counts (3–6 s each on a 2-core machine), not
## durations: with Go 1.26 a duration races the fuzz coordinator's own
## deadline and fails with "context deadline exceeded" and no failing input
## on a loaded machine (golang/go#75804, fixed in Go 1.27).
## Not fuzzed here (their seed corpora run in `make unit`; run them with
## -fuzz by hand after changing them): cognitoauth's FuzzVerify, whose
## parsing is jwtauth's (fuzzed here) and whose instrumented build takes the
## whole AWS SDK, and apigateway's FuzzDecodeEvent, whose decoding is
## go-json-experiment's and whose instrumented build takes the whole app.
fuzz:
	$(GO) test -vet=off -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime 200000x ./core/pagecursor/
	$(GO) test -vet=off -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime 40000x ./adapters/jwtauth/
	$(GO) test -vet=off -run '^$$' -fuzz '^FuzzMakeVariants$$' -fuzztime 50000x -fuzzminimizetime 3s ./adapters/imaging/
	$(GO) test -vet=off -run '^$$' -fuzz '^FuzzICCParsers$$' -fuzztime 100000x ./adapters/imaging/

## bench: benchmarks (HTTP load, verifier, imaging, storage)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./apps/... ./adapters/...

## load: interleaved load comparison (bare Echo vs GET/POST /v1/posts), see apps/loadtest
load:
	$(GO) run ./apps/loadtest -rounds 5 -duration 3s -conns 32

## load-mysql: GET /v1/posts/{id} on MariaDB/MySQL (wrk) vs a bare select loop; needs wrk and scripts/ci/mariadb.sh
MYSQL_SERVER_DSN ?= root@tcp(127.0.0.1:3306)/
load-mysql:
	@command -v wrk >/dev/null || { echo "load-mysql needs wrk: apt-get install wrk"; exit 1; }
	$(GO) run ./apps/loadtest -mysql '$(MYSQL_SERVER_DSN)' -rounds 5 -duration 3s -conns 16

## build: the server binary in bin/
build:
	$(GO) build -trimpath -o bin/cloudpost ./apps/server

## lambda: the Lambda bootstrap (linux/arm64) zipped for deploy/template.yaml
lambda:
	@mkdir -p dist
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags="-s -w" -o dist/bootstrap ./apps/lambda
	cd dist && rm -f lambda.zip && zip -q -X lambda.zip bootstrap
	@ls -l dist/lambda.zip
