# The streams service: `docker build -t streams .`, then `docker run streams worker --stages ...`.
# Dependencies are built into wheels in a throwaway stage, so the compilers needed where a
# package has no binary wheel (pycld2 and faust-streaming on arm64) stay out of the image.
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY streams ./streams
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STREAMS_DATA_DIR=/var/lib/streams
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels streams \
    && useradd --system --create-home --uid 10001 streams \
    && install -d -o streams -g streams /var/lib/streams
USER streams
WORKDIR /var/lib/streams
# faust's RocksDB tables; they are rebuilt from the changelog topics when the volume is new.
VOLUME /var/lib/streams
# Prometheus metrics (STREAMS_METRICS_PORT); faust's web server stays off.
EXPOSE 9108
ENTRYPOINT ["streams"]
CMD ["worker"]
