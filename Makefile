# Backdrop's entry points. `make test` is what CI runs (.ci/run); `make run` is the main job.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: install models lint test unit run up down status clean

$(STAMP): pyproject.toml
	@echo "… installing Backdrop and its Python packages into $(VENV): torch with its CUDA wheels is about 3 GB, minutes on a fresh machine (once)"
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
	$(BIN)/lint-imports

# Lint, type-check, then every test: the integration tests start the real servers themselves.
test: lint models
	$(BIN)/pytest

unit: models
	$(BIN)/pytest tests/unit tests/footage

# The main job, end to end through the API and the event-driven pipeline: start the servers, one
# worker per stage, the janitor, the projector, the dispatcher and the API; make the sample clip;
# upload it with POST /v1/uploads, show its Server-Sent Events as a progress bar and download the
# result; print the web app's address. `make down` stops everything.
DEMO := .backdrop/demo
run: models
	$(BIN)/backdrop up
	$(BIN)/backdrop sample $(DEMO)/sample.mp4 --seconds 10
	test -s $(DEMO)/api-key || $(BIN)/backdrop keys create demo | tail -n 1 > $(DEMO)/api-key
	BACKDROP_API_KEY=$$(cat $(DEMO)/api-key) $(BIN)/backdrop submit $(DEMO)/sample.mp4 --api \
		--background blur --wait -o $(DEMO)/sample-blurred.mp4
	$(BIN)/backdrop process $(DEMO)/sample.mp4 -o $(DEMO)/sample-cutout.webm --background transparent
	@echo "outputs in $(DEMO)/ (pipeline: sample-blurred.mp4; one process: sample-cutout.webm); stop with make down"
	@echo "web app, signed in as the demo key: $$($(BIN)/backdrop web --key-file $(DEMO)/api-key)"

up: models
	$(BIN)/backdrop up

down: install
	$(BIN)/backdrop down

status: install
	$(BIN)/backdrop infra status

clean: down
	rm -rf .backdrop
