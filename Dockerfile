# Serinus's container image: the operator (`serinus run`) and the load tester (`serinus-loadtester`).
# Multi-stage: a wheel is built in the first stage and installed, with its runtime dependencies only, into a
# virtualenv that the final stage copies. The final stage runs as an unprivileged user and works with a read-only
# root filesystem (it writes nothing; Python's bytecode cache is disabled).
#
#   docker build -t serinus:dev .
#   docker run --read-only --rm serinus:dev --help
#
# BASE is any Debian bookworm image with Python 3.11 as `python` (and its venv module). Without a registry, the
# real-node tests build one with mmdebstrap and pass it with `--build-arg BASE=...` (scripts/build-image).
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
WORKDIR /src
RUN python -m venv /opt/serinus && /opt/serinus/bin/pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/serinus/bin/python -m build --wheel --outdir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir /wheels/*.whl \
 && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} +

FROM ${BASE}
LABEL org.opencontainers.image.title="serinus" \
      org.opencontainers.image.description="Progressive delivery for Kubernetes, a drop-in replacement for Flagger" \
      org.opencontainers.image.licenses="Apache-2.0"
# `hey` drives the load tester's load-generation commands, as in Flagger's load tester image.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends hey \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["serinus"]
CMD ["run"]
