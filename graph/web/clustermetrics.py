"""Scale-out metrics and readiness details, read at scrape time (adapter; only with Redis).

How it works: :class:`ClusterView` holds the process's Redis pieces - the link, the live
path, the read limiter and the shared caches' counters - and turns them into Prometheus
families (:meth:`ClusterView.families`, yielded by the app's collector after its own) and
into the human-readable lines ``/readyz`` shows under ``details``. Redis trouble never
makes a replica unready: queries keep working from upstream and the live path falls back,
so these are details, not checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from graph.cluster.cache import SharedStats
from graph.cluster.link import RedisLink
from graph.cluster.ratelimit import ReadLimiter
from graph.live.shared import LiveMode, SharedLive
from graph.web.families import labelled, per_cache
from graph.web.metrics import PREFIX


@dataclass(frozen=True, slots=True)
class ClusterView:
    link: RedisLink
    live: SharedLive
    limiter: ReadLimiter
    caches: Callable[[], Mapping[str, SharedStats]]

    def details(self) -> dict[str, str]:
        """What ``/readyz`` shows about Redis and the live path."""
        link, live = self.link, self.live
        if link.up is False:
            redis = (
                f"unavailable for {link.down_for:.1f} s ({link.last_error}); "
                "queries use in-process caches"
            )
        else:
            redis = "ok" if link.up else "not contacted yet"
        if live.mode is LiveMode.LOCAL:
            path = "local feed (Redis unavailable)"
        elif live.owner is not None:
            path = f"shared; this replica holds the feed (fence {live.owner.fence})"
        else:
            path = "shared; another replica holds the feed"
        return {"redis": redis, "live": path, "replica": live.replica}

    def families(self) -> Iterator[Metric]:
        link, live, limiter = self.link, self.live, self.limiter
        yield GaugeMetricFamily(
            f"{PREFIX}_redis_up",
            "1 while Redis answers, 0 while it does not.",
            1.0 if link.up else 0.0,
        )
        yield labelled(
            CounterMetricFamily(
                f"{PREFIX}_redis_transitions",
                "Redis availability changes, by new state.",
                labels=["to"],
            ),
            [(("down",), link.stats.downs), (("up",), link.stats.ups)],
        )
        yield CounterMetricFamily(
            f"{PREFIX}_redis_errors", "Redis calls that failed.", link.stats.errors
        )
        yield labelled(
            GaugeMetricFamily(
                f"{PREFIX}_live_mode",
                "Where live prices come from (1 = current).",
                labels=["mode"],
            ),
            (((each.value,), 1.0 if each is live.mode else 0.0) for each in LiveMode),
        )
        for name, value, doc in (
            ("live_fallbacks", live.stats.fallbacks, "Switches to a replica-local Kalshi feed."),
            ("live_returns", live.stats.returns, "Switches back to the shared feed."),
            ("feed_lease_acquired", live.lease.stats.acquired, "Feed lease acquisitions."),
            ("feed_lease_lost", live.lease.stats.lost, "Feed leases lost (expired or taken)."),
            ("bus_ticks_received", live.subscriber.stats.received, "Ticks received through Redis."),
            ("bus_ticks_stale", live.subscriber.stats.stale, "Ticks dropped: from an old owner."),
            ("bus_ticks_published", live.published.published, "Ticks this replica published."),
            ("kalshi_reads", limiter.stats.taken, "Kalshi REST reads let through by the limiter."),
            (
                "kalshi_read_waits",
                limiter.stats.waited,
                "Kalshi REST reads that waited for a token.",
            ),
            ("kalshi_read_wait_seconds", limiter.stats.wait_s, "Time reads waited for tokens."),
            ("kalshi_reads_refused", limiter.stats.refused, "Reads failed with RATE_LIMITED."),
        ):
            yield CounterMetricFamily(f"{PREFIX}_{name}", doc, value)
        yield GaugeMetricFamily(
            f"{PREFIX}_feed_lease_held",
            "1 while this replica holds the feed lease.",
            1.0 if live.owner is not None else 0.0,
        )
        yield from per_cache(
            f"{PREFIX}_shared_cache",
            self.caches(),
            ("hits", "hits", "Shared-cache lookups answered from Redis."),
            ("loads", "loads", "Upstream loads this replica made for every replica."),
            ("waits", "waits", "Lookups that waited for another replica's load."),
            ("fallbacks", "fallbacks", "Lookups that loaded without Redis."),
        )
