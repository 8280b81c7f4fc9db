# Production image: slim Python, a non-root user, migrations and seed on start.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ENVIRONMENT=production \
    DATA_DIR=/data \
    MEDIA_DIR=/data/media

WORKDIR /srv/rehab

RUN groupadd --system rehab && useradd --system --gid rehab --home-dir /srv/rehab rehab \
    && mkdir -p /data && chown rehab:rehab /data

COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY seed ./seed
# Editable, so the package finds alembic.ini, migrations/ and seed/ beside it.
RUN pip install -e .

USER rehab
EXPOSE 8000
VOLUME ["/data"]

HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"

# SECRET_KEY and (for PostgreSQL) DATABASE_URL come from the environment.
CMD ["sh", "-c", "rehab migrate && rehab seed && exec rehab serve --host 0.0.0.0 --port 8000"]
