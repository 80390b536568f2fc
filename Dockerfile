# The Backdrop package and its CLI; the compose file runs `backdrop infra provision` from it
# today and the API and stage workers later.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY backdrop backdrop
COPY streams streams
COPY agents agents
COPY api api
COPY schemas schemas
COPY infra infra
RUN pip install --no-cache-dir .
USER nobody
ENTRYPOINT []
