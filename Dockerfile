# The heatmeter service. Give it DATABASE_URL; without one it starts an embedded
# Postgres in /data, which is only fit for a trial.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HEATMETER_HOST=0.0.0.0 HEATMETER_PORT=8080 HEATMETER_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY sql ./sql
RUN pip install --no-cache-dir . && useradd --system --create-home heatmeter \
    && mkdir -p /data && chown heatmeter /data

USER heatmeter
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"
CMD ["heatmeter", "serve"]
