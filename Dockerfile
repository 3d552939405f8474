# syntax=docker/dockerfile:1
# Two images from one tree:
#   web    - gunicorn (HTTP) or daphne (WebSockets), also used for beat and migrations; never installs torch.
#   worker - Celery with the diffusion stack on an NVIDIA CUDA runtime.
# Both run as an unprivileged user, with DJANGO_SETTINGS_MODULE=zimage.production.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# The locks are resolved for CPython 3.11 on Linux x86_64, so the worker uses deadsnakes' 3.11 too.
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS web-deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv && /opt/venv/bin/pip install 'pip==26.3'
WORKDIR /app
# Every package pinned with its hash (scripts/lock.py writes the locks).
COPY pylock.web.toml ./
RUN /opt/venv/bin/pip install -r pylock.web.toml

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS web
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=zimage.production \
    ZIMAGE_DATA_DIR=/app/var
RUN groupadd --system --gid 10001 zimage \
    && useradd --system --uid 10001 --gid zimage --home-dir /app --no-create-home --shell /usr/sbin/nologin zimage
COPY --from=web-deps /opt/venv /opt/venv
WORKDIR /app
# Code stays root-owned (read-only for the app user); only var/ (beat schedule, local media) is writable.
COPY . .
# Static files are baked in at STATIC_ROOT (ZIMAGE_DATA_DIR/static); the key and hosts are build-only dummies.
RUN SECRET_KEY=collectstatic-build-only ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput \
    && mkdir -p /app/var/media \
    && chown zimage:zimage /app/var /app/var/media
USER zimage
EXPOSE 8000
# /healthz does no I/O. Django checks the Host header, so send the first concrete ALLOWED_HOSTS entry.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; hosts = [h.strip().lstrip('.') for h in os.environ.get('ALLOWED_HOSTS', '').split(',')]; host = next((h for h in hosts if h and h != '*'), 'localhost'); u.urlopen(u.Request('http://127.0.0.1:8000/healthz', headers={'Host': host}), timeout=4)"]
CMD ["gunicorn", "-c", "python:zimage.gunicorn_conf", "zimage.wsgi:application"]

# ---------------------------------------------------------------------------------------------
FROM ${CUDA_IMAGE} AS cuda-python
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates gpg-agent software-properties-common \
    && add-apt-repository -y ppa:deadsnakes/ppa \
    && apt-get update \
    && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
    && apt-get purge -y --auto-remove gpg-agent software-properties-common \
    && rm -rf /var/lib/apt/lists/*

# ---------------------------------------------------------------------------------------------
FROM cuda-python AS worker-deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3.11 -m venv /opt/venv && /opt/venv/bin/pip install 'pip==26.3'
WORKDIR /app
COPY pylock.worker.toml ./
RUN /opt/venv/bin/pip install -r pylock.worker.toml

# ---------------------------------------------------------------------------------------------
FROM cuda-python AS worker
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=zimage.production \
    ZIMAGE_DATA_DIR=/app/var \
    HF_HOME=/var/cache/huggingface
RUN groupadd --system --gid 10001 zimage \
    && useradd --system --uid 10001 --gid zimage --home-dir /app --no-create-home --shell /usr/sbin/nologin zimage
COPY --from=worker-deps /opt/venv /opt/venv
WORKDIR /app
COPY . .
# HF_HOME and /weights are mount points: a named volume initialised from here keeps this owner.
RUN mkdir -p /app/var/media "$HF_HOME" /weights \
    && chown zimage:zimage /app/var /app/var/media "$HF_HOME"
USER zimage
# The worker answers a broadcast ping over the broker only when its consumer is alive.
HEALTHCHECK --interval=30s --timeout=20s --start-period=120s --retries=3 \
    CMD celery -A zimage inspect ping --destination "celery@$HOSTNAME" --timeout 10 || exit 1
CMD ["celery", "-A", "zimage", "worker", "-Q", "default,gen.fashion,gen.beauty,gen.eats,gen.cinema,gen.cartoon", "--concurrency", "1"]
