# Backdrop's entry points. `make test` is what CI runs (.ci/run); `make run` is the main job.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: install models lint test unit run up down status clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# The default segmentation model, from the mediapipe wheel on PyPI; offline once cached.
models: install
	$(BIN)/backdrop models fetch

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Lint, type-check, then every test: the integration tests start the real servers themselves.
test: lint models
	$(BIN)/pytest

unit: models
	$(BIN)/pytest tests/unit

# The main job, as far as it goes today: start the servers and send an upload through S3 into Kafka,
# then make the sample clip and replace its background with the stage cores in one process.
DEMO := .backdrop/demo
run: models
	$(BIN)/backdrop infra up
	$(BIN)/backdrop infra smoke
	$(BIN)/backdrop sample $(DEMO)/sample.mp4 --seconds 10
	$(BIN)/backdrop process $(DEMO)/sample.mp4 -o $(DEMO)/sample-blurred.mp4 --background blur --stills $(DEMO)/stills
	$(BIN)/backdrop process $(DEMO)/sample.mp4 -o $(DEMO)/sample-cutout.webm --background transparent
	@echo "outputs in $(DEMO)/"

up: install
	$(BIN)/backdrop infra up

down: install
	$(BIN)/backdrop infra down

status: install
	$(BIN)/backdrop infra status

clean: down
	rm -rf .backdrop
