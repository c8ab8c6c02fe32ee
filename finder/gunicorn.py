"""gunicorn's settings, the same wherever the finder is served (``make run``, the image,
docker-compose): ``gunicorn -c python:finder.gunicorn finder.wsgi``.

Threaded workers, so that a client that is slow to send its request holds one thread, not a
whole process that other shoppers need: a few clients trickling large uploads held every
single-threaded worker. Each thread reads its request's body whole before Django runs it, and
Django runs one request at a time in each process (:mod:`finder.wsgi`); a body that arrives
slower than ``FINDER_MIN_BODY_RATE`` is cut off, which frees its thread. In production the proxy
in front buffers bodies as well (``deploy/Caddyfile``).
"""

import os

worker_class = "gthread"
#: Two processes per core, at most 8 by default: each loads the text model when it starts.
workers = int(os.environ.get("FINDER_WEB_WORKERS", min(8, 2 * (os.cpu_count() or 1))))
#: Threads wait on clients (reading a request, writing a response): they cost little.
threads = int(os.environ.get("FINDER_WEB_THREADS", "8"))
#: A process that stops answering its master for this long is replaced.
timeout = 60
keepalive = 5
