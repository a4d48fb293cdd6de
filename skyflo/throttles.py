"""DRF throttles as atomic counters, keyed for anonymous clients by skyflo.client_ip.

DRF's own throttles keep every timestamp of the window in one cached list that each request reads and writes
whole: its cost grows with the rate, and concurrent requests overwrite each other's writes, so a burst of
parallel requests got through past the limit. Here a request increments the count of the current window
atomically (Redis INCR) and is let through only when its own count, plus the previous window's count weighted by
how much of that window the sliding window still covers, is within the limit ("sliding window counter").

DRF's get_ident believes any X-Forwarded-For a client writes (with NUM_PROXIES unset), so a new header value was
a fresh budget: anonymous clients are keyed by skyflo.client_ip instead.
"""

from rest_framework import throttling

from skyflo.client_ip import client_ip


class _SlidingWindowCounter(throttling.SimpleRateThrottle):
    def get_ident(self, request):
        return client_ip(request) or "-"

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        current, previous = f"{self.key}:{window}", f"{self.key}:{window - 1}"
        if hasattr(self.cache, "window_count"):  # Redis (skyflo/cache.py): one round trip
            self.count, self.previous = self.cache.window_count(current, previous, self.duration * 2)
        else:  # embedded mode's in-process cache
            self.previous = self.cache.get(previous, 0)
            self.cache.add(current, 0, self.duration * 2)
            self.count = self.cache.incr(current)
        if self._estimate(self.count) <= self.num_requests:
            return True
        self.cache.decr(current)  # a refused request does not count
        self.count -= 1
        return False

    def _estimate(self, count: int) -> float:
        still_covered = 1 - (self.now % self.duration) / self.duration
        return self.previous * still_covered + count

    def wait(self):
        """Seconds until one more request fits: until enough of the previous window has slid out, or, when this
        window alone is full, until it ends."""
        elapsed = self.now % self.duration
        if self.previous and self.count + 1 <= self.num_requests:
            fits_at = (1 - (self.num_requests - self.count - 1) / self.previous) * self.duration
            return max(fits_at - elapsed, 1.0)
        return self.duration - elapsed


# DRF's class first: its cache key (and the scoped one's choice of rate) stay, and its super() reaches ours.
class UserRateThrottle(throttling.UserRateThrottle, _SlidingWindowCounter):
    pass


class ScopedRateThrottle(throttling.ScopedRateThrottle, _SlidingWindowCounter):
    pass
