"""Running the whole finder on one machine: the embedded Redis (one server, or a group with
Sentinel) from pip packages, and ``manage.py runfinder``, which starts it, the workers and the
web server."""
