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
# `--build-arg BACKDROP_EXTRAS=gpu` adds TensorRT for the segment workers on GPU nodes.
ARG BACKDROP_EXTRAS=""
RUN pip install --no-cache-dir ".${BACKDROP_EXTRAS:+[$BACKDROP_EXTRAS]}" \
 && BACKDROP_CACHE_DIR=/opt/backdrop-cache backdrop models fetch \
 && chmod -R a+rX /opt/backdrop-cache \
 && mkdir -p /opt/backdrop-cache/tensorrt && chown nobody /opt/backdrop-cache/tensorrt
# The workers run as nobody: TensorRT engines, built on the first run on a GPU, go to the one folder of the
# cache nobody may write (mount a volume there to keep them across restarts).
ENV BACKDROP_CACHE_DIR=/opt/backdrop-cache
USER nobody
ENTRYPOINT []
