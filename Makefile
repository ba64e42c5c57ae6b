# meta-ingest: run-scoped TradingView metadata ingestion.
# Every target that needs Deno uses tools/deno, which installs the pinned
# Deno (2.9.6) from the npm registry into .tools/ when it is not on PATH.
# Variables are passed to the tool quoted, so values may hold spaces
# (AS_OF="2026-12-05 13:00Z"); ARGS is split into words on purpose.

DENO            := tools/deno
CATALOG_PATH    ?= data/lakehouse/symbols.parquet
WORKERS         ?= 3
CANDIDATES_FILE ?=
BASE_URL        ?=
REPORT          ?=
ARGS            ?=
SYMBOLS         ?=
AS_OF           ?=
STALE_AFTER     ?=
SAMPLE          ?=
PREFIX          ?= $(HOME)/.local

# A loopback mirror needs the ingest:local permission set.
TASK := $(if $(BASE_URL),ingest:local,ingest)
PROBE_TASK := $(if $(BASE_URL),probe:local,probe)
TARGETS := $(if $(CANDIDATES_FILE),--candidates-file "$(CANDIDATES_FILE)",--from-catalog)
RUN_ARGS := $(TARGETS) --workers "$(WORKERS)" --catalog-path "$(CATALOG_PATH)" \
	$(if $(BASE_URL),--base-url "$(BASE_URL)") $(if $(REPORT),--json) $(ARGS)

.DEFAULT_GOAL := help
.PHONY: help meta-ingest meta-show meta-status meta-probe install uninstall deps test check bench \
	demo dist clean

help: ## List the targets and variables
	@echo "make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  \1\t/' | expand -t 16
	@echo ""
	@echo "variables: CANDIDATES_FILE=path (else --from-catalog), WORKERS=$(WORKERS),"
	@echo "  CATALOG_PATH=$(CATALOG_PATH), BASE_URL=url (a loopback mirror),"
	@echo "  REPORT=path (JSON run report), ARGS='more flags'"
	@echo "  meta-show: SYMBOLS='EX:A EX:B' (else all), AS_OF=2026-03-01T00:00:00Z"
	@echo "  meta-status: STALE_AFTER=26h; meta-probe: SYMBOLS='EX:A EX:B' (else a catalog sample), SAMPLE=50"
	@echo "  install, uninstall: PREFIX=$(PREFIX) (the command goes in PREFIX/bin)"

meta-ingest: deps ## Refresh metadata: CANDIDATES_FILE's symbols, or the whole catalog
	@$(DENO) task -q $(TASK) $(RUN_ARGS) $(if $(REPORT),> "$(REPORT)")

meta-show: deps ## Show catalog rows: SYMBOLS's (else every symbol), as of AS_OF if given
	@$(DENO) task -q show $(if $(SYMBOLS),"$(SYMBOLS)",--all) $(if $(AS_OF),--as-of "$(AS_OF)") \
		--catalog-path "$(CATALOG_PATH)" $(ARGS)

meta-status: deps ## What the catalog holds and when it was checked; STALE_AFTER=26h to gate on freshness
	@$(DENO) task -q status --catalog-path "$(CATALOG_PATH)" $(if $(STALE_AFTER),--stale-after "$(STALE_AFTER)") $(ARGS)

meta-probe: deps ## Compare /symbol and /scan: SYMBOLS's, else a sample of the catalog
	@$(DENO) task -q $(PROBE_TASK) $(if $(SYMBOLS),--symbols "$(SYMBOLS)",--from-catalog) \
		--catalog-path "$(CATALOG_PATH)" $(if $(SAMPLE),--sample "$(SAMPLE)") \
		$(if $(BASE_URL),--base-url "$(BASE_URL)") $(ARGS)

install: deps ## Install the meta-ingest command into PREFIX/bin, to run from any folder
	@$(DENO) run -q -A tools/install.ts --prefix "$(PREFIX)"

uninstall: ## Remove the meta-ingest command from PREFIX/bin
	@$(DENO) run -q -A tools/install.ts --prefix "$(PREFIX)" --uninstall

deps: ## Install the pinned Deno and the locked npm packages
	@$(DENO) install --frozen -q

# One local Ceph S3 store (testing/ceph.ts) serves the whole parallel suite;
# it is stopped however the suite ends. Without Ceph, the S3 tests are ignored.
test: deps ## Run the test suite (S3 tests against a local Ceph store when installed)
	@s3=$$($(DENO) run -A testing/ceph.ts start --owner $$$$) || exit 1; \
	trap '$(DENO) run -A testing/ceph.ts stop "$$s3"' EXIT; \
	trap 'exit 130' INT; trap 'exit 143' TERM; \
	META_TEST_S3="$$s3" $(DENO) task -q test

check: deps ## Format check, lint and type check
	@$(DENO) task -q check

bench: deps ## Run the benchmarks (prints a table)
	@$(DENO) task -q bench

demo: deps ## Ingest a sample into a scratch catalog from a local TradingView mirror
	@$(DENO) task -q demo

dist: deps ## Compile dist/meta-ingest, dist/meta-ingest-local and dist/meta-ingest-show
	@$(DENO) task -q dist

clean: ## Remove build output and scratch files (keeps .tools/)
	rm -rf dist .scratch
