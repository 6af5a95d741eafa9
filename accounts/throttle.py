"""Rate limits on the doors people knock on: logging in, signing up, accepting an
invitation, queueing generations.

Counts live in Django's cache: Redis when REDIS_URL is set, so every process shares
them; process memory otherwise. Each scope has a rate, "count/period" (period s, m, h
or d), set in settings.STUDIO_THROTTLE_RATES; a client over it gets 429 and a
Retry-After header until the window ends.
"""

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from ninja.throttling import BaseThrottle

logger = logging.getLogger(__name__)

_RATE = re.compile(r"(?P<count>\d+)\s*/\s*(?P<number>\d*)\s*(?P<unit>[a-z]+)")
PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> "Rate":
        """Read "10/m" (10 per 60 seconds) or "100/5m" (100 per 300 seconds)."""
        match = _RATE.fullmatch(text.strip().lower())
        if match is None or match["unit"] not in PERIODS:
            raise ValueError(f"A rate looks like 10/m or 100/h, not {text!r}.")
        rate = cls(int(match["count"]), int(match["number"] or 1) * PERIODS[match["unit"]])
        if rate.count < 1 or rate.seconds < 1:
            raise ValueError(f"A rate needs at least one request per period, not {text!r}.")
        return rate


def rate_for(scope: str, default: str | None = None) -> Rate:
    return Rate.parse(settings.STUDIO_THROTTLE_RATES.get(scope) or default or "")


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind STUDIO_NUM_PROXIES trusted proxies, each proxy appends
    the address it saw to X-Forwarded-For, so the client is that many places from the end."""
    proxies = settings.STUDIO_NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
        if addresses:
            return addresses[-min(proxies, len(addresses))]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def identity(request: HttpRequest, key: str) -> str:
    """Who is counted: "ip" always the address; "user" the signed-in user, else the address."""
    user = getattr(request, "user", None)
    if key == "user" and user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


def hit(scope: str, ident: str, rate: Rate) -> float | None:
    """Count one request; None if it is allowed, else the seconds until the window ends.

    A fixed window per scope and client: cache.add starts it, cache.incr counts
    atomically, so parallel requests in many processes are all counted.
    """
    now = time.time()
    window = int(now // rate.seconds)
    key = f"throttle:{scope}:{ident}:{window}"
    try:
        count = _count(key, rate)
    except Exception:
        # The counts live in Redis. While it is down the studio keeps working and the
        # limits are off (the log says so), rather than every login and job failing.
        logger.warning("Rate limits unavailable: the cache cannot be reached", exc_info=True)
        return None
    if count <= rate.count:
        return None
    return (window + 1) * rate.seconds - now


def _count(key: str, rate: Rate) -> int:
    cache.add(key, 0, timeout=rate.seconds + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr: this request opens a new window
        cache.add(key, 1, timeout=rate.seconds + 1)
        return 1


def enabled() -> bool:
    return settings.STUDIO_THROTTLE_ENABLED


def throttled_response(request: HttpRequest, wait: float) -> HttpResponse:
    seconds = max(1, math.ceil(wait))
    html = render_to_string("throttled.html", {"seconds": seconds}, request=request)
    response = HttpResponse(html, status=429)
    response["Retry-After"] = str(seconds)
    return response


def throttle(
    scope: str,
    rate: str | None = None,
    *,
    key: str = "ip",
    methods: Iterable[str] = ("POST",),
) -> Callable:
    """Limit a view to `rate` requests per client (key "ip" or "user") for `methods`.

    settings.STUDIO_THROTTLE_RATES[scope] overrides `rate`, so operators tune it.
    """
    methods = {m.upper() for m in methods}
    rate_for(scope, rate)  # a mistyped rate fails at import, not at the first request

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs):
            if enabled() and request.method in methods:
                wait = hit(scope, identity(request, key), rate_for(scope, rate))
                if wait is not None:
                    return throttled_response(request, wait)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


class ScopeThrottle(BaseThrottle):
    """The same limits for django-ninja operations: `throttle=[ScopeThrottle("generate")]`.

    Ninja answers 429 with Retry-After; the counts are shared with the pages' decorator.
    Ninja's own rate throttles fix their rate at import and keep a per-key list of
    timestamps (read, then written back), so parallel requests can slip through; this
    one reads the rate from settings on each request and counts atomically.
    """

    def __init__(self, scope: str, rate: str | None = None, *, key: str = "user") -> None:
        self.scope, self.rate, self.key = scope, rate, key
        rate_for(scope, rate)
        self._last = threading.local()  # one throttle object serves every thread

    def allow_request(self, request: HttpRequest) -> bool:
        self._last.wait = None
        if not enabled():
            return True
        rate = rate_for(self.scope, self.rate)
        self._last.wait = hit(self.scope, identity(request, self.key), rate)
        return self._last.wait is None

    def wait(self) -> float | None:
        return getattr(self._last, "wait", None)
