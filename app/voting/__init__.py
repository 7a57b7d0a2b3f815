"""Voting: the dockersamples "example voting app" rewritten as one small Python package.

Three components share one image and this package:

- ``voting.vote`` (gunicorn ``"voting.vote:create_app()"``): a page with two options;
  each vote is pushed as JSON ``{"voter_id": ..., "vote": "a"|"b"}`` onto the Redis list
  ``votes``. ``POST /api/vote`` is the JSON variant (202).
- ``voting.worker`` (``python3 -m voting.worker``): pops votes from Redis and upserts them
  into the Postgres table ``votes(id, vote)``: one row per voter, the last vote wins.
- ``voting.result`` (gunicorn ``"voting.result:create_app()"``): counts and percentages
  (``GET /``, ``GET /api/results``).

Environment (see :mod:`voting.config`): REDIS_HOST (redis), REDIS_PORT (6379), DB_HOST (db),
DB_PORT (5432), DB_NAME / DB_USER / DB_PASSWORD (postgres; DB_PASSWORD_FILE for a secret),
OPTION_A (Cats), OPTION_B (Dogs). The web apps answer ``/healthz`` (alive) and ``/readyz``
(their backend answers) and name the serving process in an ``X-Instance`` header.
"""

from __future__ import annotations

from .config import Settings, load_settings

__all__ = ["Settings", "load_settings"]
