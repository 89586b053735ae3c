# One image for every Harmony component (processors, simulator, Spark jobs, dashboard).
# BASE defaults to python:3.11-slim for Docker users; `harmony images build` passes its own Debian base
# (built with debootstrap: no registry is reachable here) and OFFLINE=1 with a wheelhouse it built on the host.
ARG BASE=python:3.11-slim
FROM ${BASE}
ARG OFFLINE=0
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --create-home --home-dir /home/harmony harmony \
    && mkdir -p /var/lib/harmony /var/cache/harmony && chown harmony:harmony /var/lib/harmony /var/cache/harmony
COPY pyproject.toml README.md /src/
COPY harmony /src/harmony
COPY lakehouse /src/lakehouse
COPY stack /src/stack
COPY simulator /src/simulator
COPY ingest /src/ingest
COPY alerting /src/alerting
COPY spark /src/spark
COPY dashboard /src/dashboard
# Offline: the project's wheel and every dependency from the wheelhouse, mounted for this step only (a
# COPY would keep its half a gigabyte of wheels as a layer of the image); otherwise from PyPI.
RUN --mount=type=bind,source=wheelhouse,target=/wheels \
    python3 -m venv /opt/harmony \
    && if [ "$OFFLINE" = 1 ]; then \
         /opt/harmony/bin/pip install --no-cache-dir --no-index --find-links /wheels harmony-lakehouse; \
       else /opt/harmony/bin/pip install --no-cache-dir /src; fi \
    && rm -rf /src
ENV PATH=/opt/harmony/bin:$PATH HARMONY_STATE_DIR=/var/lib/harmony HARMONY_CACHE_DIR=/var/cache/harmony
# No credential in the image: they come from the environment at run time.
USER harmony
WORKDIR /home/harmony
ENTRYPOINT []
