# One image for the web, worker and beat services of docker-compose.yml, built in two stages.
#
# The builder installs the export's lock (PyTorch, the models' weights, the ONNX exporter) and
# exports the models to ONNX. The runtime image installs the runtime lock alone (ONNX Runtime, no
# PyTorch: docs/dependencies.md) and takes the exports from the builder, so no container exports
# again. The exports belong to the image (built with it, for its pinned models), not to a volume
# that would outlive it; the photos and uploads are the volumes (docker-compose.yml).
FROM python:3.11-slim AS builder
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 FINDER_MODEL_CACHE=/models
WORKDIR /app
COPY requirements.txt requirements-export.txt ./
RUN pip install --no-cache-dir --require-hashes -r requirements-export.txt
COPY . .
RUN SECRET_KEY=build-only python manage.py export_models

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir --require-hashes -r requirements.txt
COPY . .
ENV FINDER_VAR_DIR=/var/finder FINDER_MODEL_CACHE=/opt/finder/models
COPY --from=builder /models /opt/finder/models
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput --verbosity 0 \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin finder \
    && mkdir -p /var/finder/media /var/finder/uploads /var/finder/metrics \
    && chown -R finder:finder /var/finder
# Never root: the app, the workers and beat run as this unprivileged user.
USER finder
EXPOSE 8000
CMD ["gunicorn", "-c", "python:finder.gunicorn", "finder.wsgi", "--bind", "0.0.0.0:8000"]
