# One image for the web, worker and beat services of docker-compose.yml.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
ENV FINDER_VAR_DIR=/var/finder
RUN DEBUG=0 SECRET_KEY=build-only python manage.py collectstatic --noinput --verbosity 0 \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin finder \
    && mkdir -p /var/finder/media /var/finder/uploads /var/finder/models /var/finder/metrics \
    && chown -R finder:finder /var/finder
# Never root: the app, the workers and beat run as this unprivileged user.
USER finder
EXPOSE 8000
CMD ["gunicorn", "-c", "python:finder.gunicorn", "finder.wsgi", "--bind", "0.0.0.0:8000"]
