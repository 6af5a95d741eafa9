"""Where a "continue to" parameter may send a browser: only somewhere on this site."""

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def on_this_site_or(request: HttpRequest, target: str, fallback: str) -> str:
    """`target` if it stays on this site (never an open redirect), else `fallback`."""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else fallback
