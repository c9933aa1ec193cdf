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

.PHONY: install demo test lint typecheck docs bench security clean locales

$(STAMP): pyproject.toml setup.py src/storykit/_speedups.c $(wildcard plugins/*/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-e '.[dev,docs,bench]' $(foreach p,$(PLUGINS),-e ./$(p))
	test -f $(VNU) || npm install --prefix $(VENV)/vnu --ignore-scripts --no-audit --no-fund \
		--silent vnu-jar
	test -f $(AXE) || npm install --prefix $(VENV)/axe --ignore-scripts --no-audit --no-fund \
		--silent axe-core
	touch $@

install: $(STAMP)

## demo: every example output, into build/
demo: install
	mkdir -p build
	$(STORYKIT) validate $(EXAMPLE) examples/impact-and-people/stories.toml
	$(STORYKIT) export $(EXAMPLE) --format html -o build/index.html
	$(BIN)/python tools/screenshot.py build/index.html build/screenshots/page-1280.png --width 1280 --skip-missing-browser
	$(BIN)/python tools/screenshot.py build/index.html build/screenshots/page-375.png --width 375 --skip-missing-browser
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
	$(STORYKIT) export $(EXAMPLE) --format vcard -o build/contacts.vcf
	$(STORYKIT) export $(EXAMPLE) --format markdown -o build/stories.md
	$(STORYKIT) digest $(EXAMPLE) --since 2021-02-15 --until 2021-02-23 --format email --check \
		-O "sender=ILO Newsroom <newsroom@ilo.org>" -O "to=Journalists <journalists@example.org>" \
		-O "unsubscribe=https://news.example.org/unsubscribe?u={token}" -o build/digest.eml
	$(BIN)/python tools/eml_html.py build/digest.eml build/digest.html
	$(BIN)/python tools/screenshot.py build/digest.html build/screenshots/digest-600.png --width 600 --skip-missing-browser
	$(BIN)/python examples/weekly_digest.py --today 2021-02-23 -o build/weekly
	$(BIN)/python examples/partner_export.py --partner asia-desk --countries LK,MM,PH,TL -o build/partners
	$(BIN)/python examples/personalised.py --since 2021-02-01 --until 2021-02-28 -o build/outbox
	@echo "demo: outputs are in build/"; ls -1 build

## test: the whole suite (lint, types, tests)
test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q

## docs: the documentation site, into site/ (warnings are errors; shows demo's screenshots)
docs: demo
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/run.py

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
