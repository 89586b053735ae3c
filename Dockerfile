# One image for every Harmony component (processors, simulator, Spark jobs, dashboard).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless maven \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY harmony harmony
COPY lakehouse lakehouse
COPY stack stack
COPY simulator simulator
COPY ingest ingest
COPY alerting alerting
COPY spark spark
COPY dashboard dashboard
RUN pip install --no-cache-dir .
ENV HARMONY_STATE_DIR=/var/lib/harmony HARMONY_CACHE_DIR=/var/cache/harmony
ENTRYPOINT []
