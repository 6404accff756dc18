"""What a worker has learned about moderations endpoints, shared by every check it runs.

Teams point the relay at proxies and bridges, and many have no `/moderations`. An endpoint
that answers 404, 405 or 501 does not exist: it is asked once, noted in the log once, and the
rules moderate from then on, for the life of the worker. An endpoint that fails (5xx, no
connection, an unreadable answer) is a circuit breaker's business: after
`MODERATION_PAUSE_AFTER` failures in a row it rests for `MODERATION_PAUSE_SECONDS`, the rules
moderate meanwhile, and the first check after the rest asks it again (one more failure and
it rests again). So a broken endpoint costs a bounded number of requests per rest, however
many turns end, instead of every turn's retries.

The worker makes one `ModerationEndpoints` beside its upstream client and hands it to every
turn, hold gate and sweep; settings are read when a failure is counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

log = logging.getLogger(__name__)

# HTTP statuses that say there is no such endpoint at this URL (not that it failed).
MISSING_STATUSES = frozenset({404, 405, 501})


class EndpointUnavailable(Exception):
    """The endpoint is not asked now; the message says why (for the turn's `fallback`)."""


@dataclass
class _Endpoint:
    missing: str = ""  # why the endpoint is taken not to exist; "" while it might
    failures: int = 0  # failed in a row
    resting_until: float = 0.0


class ModerationEndpoints:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.known: dict[str, _Endpoint] = {}

    def admit(self, url: str) -> None:
        """Raises `EndpointUnavailable` when `url` is not to be asked now."""
        endpoint = self.known.get(url)
        if endpoint is None:
            return
        if endpoint.missing:
            raise EndpointUnavailable(endpoint.missing)
        if endpoint.failures >= settings.MODERATION_PAUSE_AFTER:
            left = endpoint.resting_until - self.clock()
            if left > 0:
                raise EndpointUnavailable(
                    f"{url} failed {endpoint.failures} times in a row; "
                    f"not asked again for {left:.0f} s"
                )

    def answered(self, url: str) -> None:
        self.known.pop(url, None)

    def failed(self, url: str, reason: str) -> None:
        endpoint = self.known.setdefault(url, _Endpoint())
        endpoint.failures += 1
        if endpoint.failures >= settings.MODERATION_PAUSE_AFTER:
            rest = settings.MODERATION_PAUSE_SECONDS
            endpoint.resting_until = self.clock() + rest
            log.warning(
                "moderations endpoint %s failed %d times in a row (%s): the rules moderate "
                "for the next %s s",
                url,
                endpoint.failures,
                reason,
                rest,
            )

    def missing(self, url: str, reason: str) -> None:
        """Note that `url` does not exist, logged once per URL."""
        endpoint = self.known.setdefault(url, _Endpoint())
        if not endpoint.missing:
            endpoint.missing = reason
            log.warning("moderations: %s; the rules moderate from now on", reason)
