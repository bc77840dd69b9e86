# syntax=docker/dockerfile:1
# One image for every tradebus process: the console scripts `runner` and `strategy`, and
# `python -m exchanges.sim` (the offline venues). Pick one with the command:
#
#   docker build -t tradebus .
#   docker run --rm -p 9100:9100 tradebus runner binance --redis-url redis://host:6379/0
#   docker run --rm tradebus strategy spotperp --paper
#   docker run --rm -p 9000-9001:9000-9001 tradebus python -m exchanges.sim binance --port-base 9000 --host 0.0.0.0
#
# Defaults baked in (override with -e): ZeroMQ and the metrics port listen on all interfaces
# (TRADEBUS_BIND=0.0.0.0), /metrics /healthz /readyz on 9100 (TRADEBUS_METRICS_PORT; 0 = off).
# Binding 0.0.0.0 needs CURVE keys (docs/security.md): mount them at /etc/tradebus/keys and set
# TRADEBUS_CURVE_KEY_FILE + TRADEBUS_ALLOW_FILE (runners) or TRADEBUS_CLIENT_KEY_FILE +
# TRADEBUS_TRUSTED_RUNNERS (strategies); `runner keys generate NAME --dir DIR` writes them.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: compile/install tradebus and its dependencies into a virtualenv -------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# a compiler only for dependencies without a wheel on this platform (never in the final image)
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/tradebus
ENV PATH=/opt/tradebus/bin:$PATH
WORKDIR /src
# dependencies first (cached until pyproject.toml changes), then the code
COPY pyproject.toml README.md ./
RUN python -c "import subprocess, sys, tomllib; \
deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
subprocess.check_call([sys.executable, '-m', 'pip', 'install', *deps])"
COPY strategy_client ./strategy_client
COPY exchanges ./exchanges
COPY exchange_runner ./exchange_runner
COPY strategies ./strategies
RUN pip install --no-deps . \
    && python -c "import exchange_runner.cli, exchanges.sim.cli, strategy_client.telemetry"

# -- runtime: the virtualenv, the configs, an unprivileged user --------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="tradebus" \
      org.opencontainers.image.description="tradebus runners, strategies and offline exchange venues" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 tradebus \
    && useradd --system --uid 10001 --gid tradebus --home-dir /home/tradebus --create-home --shell /usr/sbin/nologin tradebus
COPY --from=build /opt/tradebus /opt/tradebus
COPY --chown=tradebus:tradebus configs /etc/tradebus/configs
# where key volumes mount (a named volume takes this owner and mode)
RUN install -d -o tradebus -g tradebus -m 0700 /etc/tradebus/keys
ENV PATH=/opt/tradebus/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TRADEBUS_BIND=0.0.0.0 \
    TRADEBUS_METRICS_PORT=9100
USER tradebus
WORKDIR /home/tradebus
EXPOSE 9100
HEALTHCHECK --interval=10s --timeout=4s --start-period=30s --retries=3 \
    CMD ["python", "-m", "strategy_client.telemetry.healthcheck"]
CMD ["runner", "--help"]
