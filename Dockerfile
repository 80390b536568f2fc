# The Backdrop package and its CLI; the compose file runs `backdrop infra provision`, the migrations,
# one `backdrop worker STAGE` per stage, the projector, the webhook dispatcher and the API from it.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY base base
COPY backdrop backdrop
COPY streams streams
COPY agents agents
COPY api api
COPY schemas schemas
COPY infra infra
RUN pip install --no-cache-dir . \
 && BACKDROP_CACHE_DIR=/opt/backdrop-cache backdrop models fetch \
 && chmod -R a+rX /opt/backdrop-cache
ENV BACKDROP_CACHE_DIR=/opt/backdrop-cache
USER nobody
ENTRYPOINT []
