"""Django's PostgreSQL backend, reading timestamps with `datetime.fromisoformat`.

Django registers a timestamptz loader built on psycopg's pure-Python parser (psycopg's C loader cannot be
subclassed), and every timestamp of every row went through it: a page of 50 conversations spent more CPU parsing
its 150 timestamps than serialising them. The session's time zone is UTC (Django sets it), so PostgreSQL writes
`2026-12-06 14:15:31.46217+00`, which `fromisoformat` reads in C as an aware UTC datetime; anything else (BC dates,
infinity) goes to Django's loader as before.
"""

from datetime import UTC, datetime
from functools import lru_cache

from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg import adapt


class _IsoTzLoader(BaseTzLoader):
    timezone = UTC  # what Django compares before it registers a loader of its own on a cursor

    def load(self, data):
        try:
            return datetime.fromisoformat(bytes(data).decode())
        except ValueError:
            return super().load(data)


@lru_cache
def _adapters(template: adapt.AdaptersMap) -> adapt.AdaptersMap:
    adapters = adapt.AdaptersMap(template)
    adapters.register_loader("timestamptz", _IsoTzLoader)
    return adapters


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        if self.timezone == UTC:
            params["context"] = _adapters(params["context"])
        return params
