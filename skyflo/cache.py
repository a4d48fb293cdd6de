"""Django's Redis cache with one connection pool per process.

Django keeps a cache object per context, and under ASGI every request runs in a context (and a thread) of its own:
with Django's RedisCache each request built a connection pool and opened a new Redis connection for its throttle
check. Here every cache object of the process borrows from the same pool (redis-py pools are thread-safe and reset
themselves after a fork).
"""

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_pools: dict[str, object] = {}
_pools_lock = threading.Lock()


class _ProcessPoolClient(RedisCacheClient):
    def _get_connection_pool(self, write):
        server = self._servers[self._get_connection_pool_index(write)]
        with _pools_lock:
            if server not in _pools:
                _pools[server] = self._pool_class.from_url(server, **self._pool_options)
            return _pools[server]


class ProcessPoolRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ProcessPoolClient

    def window_count(self, current: str, previous: str, timeout: int) -> tuple[int, int]:
        """Adds one to the count kept under `current` (created with `timeout`) and reads the one under `previous`,
        in one round trip: a rate-limit window's check (skyflo/throttles.py)."""
        current, previous = self.make_and_validate_key(current), self.make_and_validate_key(previous)
        with self._cache.get_client(current, write=True).pipeline(transaction=False) as pipe:
            pipe.set(current, 0, ex=timeout, nx=True)
            pipe.incr(current)
            pipe.get(previous)
            _, count, before = pipe.execute()
        return count, int(before or 0)
