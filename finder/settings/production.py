"""A deployment (the default, so that one that forgets to choose fails closed): DEBUG off, a
``SECRET_KEY`` required, and HTTPS."""

from finder.settings.base import *  # noqa: F403
from finder.settings.base import env

SECRET_KEY = env("SECRET_KEY")

# The site is served over HTTPS (TLS ends at a proxy in front of gunicorn, which says so in
# X-Forwarded-Proto): cookies only over HTTPS, HTTP redirected, HSTS. FINDER_HTTPS=0 serves
# plain HTTP, for a site that only listens on loopback (the benchmark).
FINDER_HTTPS = env.bool("FINDER_HTTPS", default=True)
# Whether a request came over HTTPS is gunicorn's word (wsgi.url_scheme): it believes
# X-Forwarded-Proto only from the addresses in its --forwarded-allow-ips (loopback by default;
# the TLS proxy's in docker-compose.yml). Django is not told to read the header itself
# (SECURE_PROXY_SSL_HEADER), since it would believe it from anyone.
SECURE_SSL_REDIRECT = FINDER_HTTPS
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = FINDER_HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if FINDER_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = FINDER_HTTPS
