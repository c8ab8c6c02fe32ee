"""Shared plumbing every app may use and none owns: Redis clients and the shared cache, errors,
throttling, request ids and logs, metrics, the middleware, what every Celery task carries, and
the WSGI guard in front of Django. It knows nothing of products or search."""
