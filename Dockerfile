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
 && cd / && NUMBA_CACHE_DIR=/opt/backdrop-cache/numba python -c "import agents.matte; agents.matte.warm_up()" \
 && chmod -R a+rX /opt/backdrop-cache \
 && mkdir -p /opt/backdrop-cache/tensorrt && chown -R nobody /opt/backdrop-cache/tensorrt /opt/backdrop-cache/numba
# The workers run as nobody: TensorRT engines, built on the first run on a GPU, and the matte stage's
# compiled loops (built here, rebuilt on a node whose CPU differs) go to the folders of the cache nobody
# may write (mount a volume there to keep them across restarts).
ENV BACKDROP_CACHE_DIR=/opt/backdrop-cache NUMBA_CACHE_DIR=/opt/backdrop-cache/numba
# Run with a GPU (`docker run --gpus all`), the NVIDIA runtime mounts the driver libraries these name:
# CUDA for the model, and NVDEC, which the workers decode on (BACKDROP_DECODE_DEVICE=auto).
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility,video
USER nobody
ENTRYPOINT []
