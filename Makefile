# storykit: a fresh clone needs `make demo` and `make test`, nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PLUGINS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))
EXAMPLE := examples/impact-and-people/stories.json
STORYKIT := $(BIN)/storykit
# The W3C Nu HTML checker, run by the hostile-input tests (npm package; needs java).
VNU := $(VENV)/vnu/node_modules/vnu-jar/build/dist/vnu.jar
# axe-core, injected into pages by the browser tests (npm package).
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js

.PHONY: install demo test stress-test lint typecheck docs bench security clean locales fuzz

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-e '.[dev,docs,bench]' $(foreach p,$(PLUGINS),-e ./$(p))
	test -f $(VNU) || npm install --prefix $(VENV)/vnu --ignore-scripts --no-audit --no-fund \
		--silent vnu-jar || echo "install: warning: no npm: the W3C HTML checker (vnu-jar, run by the hostile-input tests) is not installed; apt-get install npm default-jre-headless, then rm -f $(STAMP) && make install" >&2
	test -f $(AXE) || npm install --prefix $(VENV)/axe --ignore-scripts --no-audit --no-fund \
		--silent axe-core || echo "install: warning: no npm: axe-core (the accessibility check of the browser tests) is not installed; apt-get install npm, then rm -f $(STAMP) && make install" >&2
	touch $@

install: $(STAMP)

## demo: every example output, into build/ (and, at the end, what it could not make and why)
# The outputs that need something outside Python; the summary line names any that are missing.
DEMO_NEEDS_CHROMIUM := build/screenshots/page-1280.png build/screenshots/page-375.png \
	build/screenshots/page-1280-dark.png build/screenshots/page-375-dark.png \
	build/screenshots/digest-375.png build/screenshots/digest-600.png \
	build/screenshots/digest-375-dark.png build/screenshots/digest-600-dark.png
SHOOT := $(BIN)/python tools/screenshot.py --skip-missing-browser

demo: install
	mkdir -p build
	rm -f $(DEMO_NEEDS_CHROMIUM)
	$(STORYKIT) validate $(EXAMPLE) examples/impact-and-people/stories.toml
	$(STORYKIT) export $(EXAMPLE) --format html -o build/index.html
	$(BIN)/python tools/screenshot.py build/index.html build/screenshots/page-1280.png --width 1280 --skip-missing-browser
	$(BIN)/python tools/screenshot.py build/index.html build/screenshots/page-375.png --width 375 --skip-missing-browser
	$(SHOOT) build/index.html build/screenshots/page-1280-dark.png --width 1280 --color-scheme dark
	$(SHOOT) build/index.html build/screenshots/page-375-dark.png --width 375 --color-scheme dark
	$(STORYKIT) export $(EXAMPLE) --format site -O base_url=https://news.example.org/impact-and-people/ -o build/site/
	$(BIN)/python tools/screenshot.py build/site/index.html build/screenshots/site-index-1280.png --width 1280 --skip-missing-browser
	$(BIN)/python tools/screenshot.py build/site/index.html build/screenshots/site-index-375.png --width 375 --skip-missing-browser
	$(BIN)/python tools/screenshot.py build/site/topics/covid-19.html build/screenshots/site-topic-1280.png --width 1280 --skip-missing-browser
	$(BIN)/python tools/screenshot.py build/site/stories/a-song-to-let-children-fly.html build/screenshots/site-story-375.png --width 375 --skip-missing-browser
	$(STORYKIT) export $(EXAMPLE) --format json -O indent=2 -o build/stories.json
	$(STORYKIT) export $(EXAMPLE) --format csv -o build/stories.csv
	$(STORYKIT) export $(EXAMPLE) --format atom -O self_url=https://news.example.org/impact-and-people/feed.atom -o build/feed.atom
	$(STORYKIT) export $(EXAMPLE) --format rss -O self_url=https://news.example.org/impact-and-people/feed.rss -o build/feed.rss
	$(STORYKIT) export $(EXAMPLE) --format jsonfeed -O self_url=https://news.example.org/impact-and-people/feed.json -o build/feed.json
	@echo "demo: reading the collection's own feeds, page and content folder back (build/imported/)"
	rm -rf build/imported && mkdir -p build/imported
	$(STORYKIT) import build/feed.atom -o build/imported/from-atom.json
	$(STORYKIT) import build/feed.rss -o build/imported/from-rss.json
	$(STORYKIT) import build/feed.json --from jsonfeed -o build/imported/from-jsonfeed.json
	$(STORYKIT) import build/index.html --from html -o build/imported/from-html.json
	$(STORYKIT) import examples/impact-and-people/content/ -o build/imported/from-content.json
	$(STORYKIT) validate build/imported/*.json
	$(STORYKIT) export $(EXAMPLE) --format vcard -o build/contacts.vcf
	$(STORYKIT) export $(EXAMPLE) --format markdown -o build/stories.md
	$(STORYKIT) digest $(EXAMPLE) --since 2021-02-15 --until 2021-02-23 --format email --check \
		-O "sender=ILO Newsroom <newsroom@ilo.org>" -O "to=Journalists <journalists@example.org>" \
		-O "unsubscribe=https://news.example.org/unsubscribe?u={token}" \
		-O web_url=https://news.example.org/impact-and-people/digests/ -o build/digest.eml
	$(BIN)/python tools/eml_html.py build/digest.eml build/digest.html
	$(SHOOT) build/digest.html build/screenshots/digest-375.png --width 375
	$(SHOOT) build/digest.html build/screenshots/digest-600.png --width 600
	$(SHOOT) build/digest.html build/screenshots/digest-375-dark.png --width 375 --color-scheme dark
	$(SHOOT) build/digest.html build/screenshots/digest-600-dark.png --width 600 --color-scheme dark
	$(BIN)/python examples/weekly_digest.py --today 2021-02-23 -o build/weekly
	$(BIN)/python examples/partner_export.py --partner asia-desk --countries LK,MM,PH,TL -o build/partners
	$(BIN)/python examples/personalised.py --since 2021-02-01 --until 2021-02-28 -o build/outbox
	@echo "demo: outputs are in build/"; ls -1 build
	@missing=""; for f in $(DEMO_NEEDS_CHROMIUM); do test -f $$f || missing="$$missing $$f"; done; \
	if [ -n "$$missing" ]; then \
		echo "" >&2; \
		echo "demo: NOT MADE:$$missing" >&2; \
		echo "demo: these screenshots need Chromium: apt-get install chromium (or set CHROMIUM=/path/to/chromium), then run make demo again" >&2; \
	fi; \
	if [ ! -f $(VNU) ] || ! command -v java >/dev/null; then \
		echo "demo: NOT INSTALLED: the W3C HTML checker that make test runs (needs npm and Java): apt-get install npm default-jre-headless, then rm -f $(STAMP) && make install" >&2; \
	fi

## test: the whole suite (lint, types, tests)
test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q

## stress-test: the suite under CPU oversubscription (pytest -n 4 on this machine's cores
## beside a CPU-bound burner the target starts and kills), STRESS_RUNS times in a row (default
## 5), then each test marked `concurrency` (threads, processes, servers, browsers, watchers)
## repeated STRESS_COUNT times (default 10). Every run must pass.
STRESS_RUNS ?= 5
STRESS_COUNT ?= 10
stress-test: install
	$(BIN)/python tools/stress_test.py --runs $(STRESS_RUNS) --count $(STRESS_COUNT)

## docs: the documentation site, into site/ (warnings are errors; shows demo's screenshots)
docs: demo
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

## fuzz: every reader against Hypothesis mutants of the feed corpus for FUZZ_SECONDS (60)
FUZZ_SECONDS ?= 60
FUZZ_CORPUS ?= build/fuzz-corpus
fuzz: install
	mkdir -p $(FUZZ_CORPUS)
	$(BIN)/python tools/fuzz_readers.py --seconds $(FUZZ_SECONDS) --corpus $(FUZZ_CORPUS)

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/readers.py --entries 10000 --files 10000

## security: the hostile corpus through every format, and faults injected into writes
security: install
	$(BIN)/python benchmarks/security.py

## locales: list new template/email labels in every catalogue (src/storykit/locale/*/LC_MESSAGES)
## (.po files are compiled in memory when used: no .mo to build); then translate the new entries
locales: install
	mkdir -p build
	$(BIN)/pybabel extract -F src/storykit/locale/babel.cfg -k _gettext --no-location \
		--sort-output --project storykit -o build/storykit.pot .
	$(BIN)/pybabel update -i build/storykit.pot -d src/storykit/locale -D storykit \
		--no-fuzzy-matching

clean:
	rm -rf build site .pytest_cache .mypy_cache .ruff_cache
