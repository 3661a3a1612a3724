# cvv build, test and benchmark targets.
#
# github.com/iceber/iouring-go links only with -checklinkname=0 on Go >= 1.23
# (upstream issue #32): every go build/test/install here passes it.
GO       ?= go
LDFLAGS  ?= -checklinkname=0
GOFLAGS  := -ldflags=$(LDFLAGS)
export GOFLAGS
BIN      ?= bin/cvv
PREFIX   ?= /usr/local
DESTDIR  ?=
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
STAMP    := -X github.com/cvv-project/cvv/cmd/internal/command.version=$(VERSION) \
            -X github.com/cvv-project/cvv/cmd/internal/command.commit=$(COMMIT)

.PHONY: all build install uninstall release release-check test test-bench test-race test-fallback test-faults bench bench-full bench-smoke lint cross demo clean

all: build

build:
	$(GO) build -ldflags="$(LDFLAGS) $(STAMP)" -o $(BIN) ./cmd/cvv

# The binary, its man page and the bash, zsh and fish completions, all
# generated from the command definitions, under $(DESTDIR)$(PREFIX).
install: build
	rm -rf bin/share && $(GO) run ./cmd/internal/gendoc bin/share
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/cvv
	install -D -m 0644 bin/share/man/man1/cvv.1 $(DESTDIR)$(PREFIX)/share/man/man1/cvv.1
	install -D -m 0644 bin/share/completion/cvv.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/cvv
	install -D -m 0644 bin/share/completion/_cvv $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_cvv
	install -D -m 0644 bin/share/completion/cvv.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/cvv.fish

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/cvv $(DESTDIR)$(PREFIX)/share/man/man1/cvv.1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/cvv \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_cvv \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/cvv.fish

# Static binaries for linux/amd64, linux/arm64, darwin and freebsd, the man
# page and completions, and SHA256SUMS in dist/ (scripts/release.sh), built
# reproducibly; release-check builds twice and compares the checksums.
release:
	scripts/release.sh dist

release-check:
	scripts/release-check.sh

# testhooks compiles in the between-phases hook the CLI fault scripts use; it
# does nothing unless its environment variable is set.
TESTTAGS ?= testhooks

# bench/ is a module of its own (its chart libraries stay out of the tool's
# go.mod): test-bench runs its tests, and test includes it.
#
# Timeouts: go test's default of 10 minutes per package is too short for
# cmd/cvv under the race detector (the 16-process shard jobs, the cascade
# onto a throttled drive) on a 2-core machine; a hang still fails.
test: test-bench
	$(GO) test -tags $(TESTTAGS) -count=1 -timeout 20m ./...

test-bench:
	cd bench && $(GO) test -count=1 ./...

test-race:
	$(GO) test -tags $(TESTTAGS) -race -short -count=1 -timeout 30m ./...

# The same suites with the portable engine forced everywhere.
test-fallback:
	CVV_ENGINE=fallback $(GO) test -tags $(TESTTAGS) -short -count=1 -timeout 20m ./...

# The comparison with cp and rsync (scripts/bench.sh): a short profile of a
# few minutes, and the whole matrix (about an hour; run it on a quiet machine).
# Results go to bench/results/<date>-<profile>/.
bench:
	scripts/bench.sh short

bench-full:
	scripts/bench.sh full

# Under a minute: tiny sizes, one run; checks the whole pipeline (CI).
bench-smoke:
	scripts/bench.sh smoke

# The fault suite with its long trials (50+ signal and crash trials each, a
# sparse 20 GiB file, trees of 1M empty files for hash, verify and a
# copy with its re-run). Needs root for mounts and FUSE.
test-faults:
	CVV_FAULTS=full $(GO) test -count=1 -timeout 60m ./cmd/internal/faults/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd bench && $(GO) vet ./...
	@if command -v staticcheck >/dev/null; then staticcheck ./...; fi

cross:
	GOOS=darwin GOARCH=arm64 $(GO) build ./...
	GOOS=freebsd GOARCH=amd64 $(GO) build ./...
	GOOS=linux GOARCH=arm64 $(GO) build ./...

clean:
	rm -rf bin dist

# A real run on generated sample data: ~384 MiB to three destinations.
demo: build
	scripts/demo.sh
