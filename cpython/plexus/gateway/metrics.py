"""`GET /metrics`: the gateway's gauges and counters in the Prometheus text
exposition format (version 0.0.4), for an operator's scraper or `curl`.

Counts only: no source ids, metric names or keys, so it needs no key, like
/health. Rendering reads a few counters and never touches the store, so it
stays cheap while the gateway is behind.
"""

import resource
import sys

from aiohttp import web

from plexus.gateway import state  # the module: state.py builds its Counters from here
from plexus_core import __version__

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Counters:
    """Counters kept by the request handlers (the write queue keeps its own)."""

    def __init__(self):
        self.acks_sent = 0
        self.telemetry_frames = 0   # telemetry frames received on device sockets
        self.ingest_requests = 0


def _rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # the peak, where /proc is missing
        return peak if sys.platform == "darwin" else peak * 1024


def samples(st):
    """(name, type, help, value) for every exported series."""
    q, c, hub = st.intake, st.counters, st.hub
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return [
        ("plexus_gateway_queue_points", "gauge", "Points waiting for the store's commit.", q.points),
        ("plexus_gateway_queue_batches", "gauge", "Batches waiting for the store's commit.", q.depth()),
        ("plexus_gateway_queue_limit_points", "gauge", "Queued points at which device sockets pause and "
         "/ingest answers 503.", q.max_points),
        ("plexus_gateway_lag_seconds", "gauge", "How long the oldest queued batch has waited for its commit.",
         round(q.oldest_wait_s(), 6)),
        ("plexus_gateway_paused_device_sockets", "gauge", "Device sockets not read until the queue has room.",
         q.paused_reads),
        ("plexus_gateway_queue_full_total", "counter", "Times the queue reached its limit.", q.full_events),
        ("plexus_gateway_frames_stored_total", "counter", "Telemetry batches committed to the store.",
         q.frames_stored),
        ("plexus_gateway_points_stored_total", "counter", "Points committed to the store.", q.points_stored),
        ("plexus_gateway_store_failures_total", "counter", "Telemetry writes the store refused or failed.",
         q.store_failures),
        ("plexus_gateway_telemetry_frames_total", "counter", "Telemetry frames received on device sockets.",
         c.telemetry_frames),
        ("plexus_gateway_acks_sent_total", "counter", "telemetry_ack frames sent to devices.", c.acks_sent),
        ("plexus_gateway_ingest_requests_total", "counter", "POST /ingest requests.", c.ingest_requests),
        ("plexus_gateway_ingest_503_total", "counter", "/ingest requests answered 503 (the queue was full).",
         q.refused_http),
        ("plexus_gateway_devices_connected", "gauge", "Authenticated device sockets.",
         sum(len(v) for v in hub.devices.values())),
        ("plexus_gateway_viewers_connected", "gauge", "Live data and video viewers.",
         len(hub.metric_viewers) + len(hub.log_viewers) + len(hub.video_viewers)),
        ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", _rss_bytes()),
        ("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.",
         round(ru.ru_utime + ru.ru_stime, 3)),
    ]


def render(st):
    lines = ["# HELP plexus_gateway_info The gateway's version.", "# TYPE plexus_gateway_info gauge",
             'plexus_gateway_info{version="%s"} 1' % __version__]
    for name, kind, help_, value in samples(st):
        lines.append("# HELP %s %s" % (name, help_))
        lines.append("# TYPE %s %s" % (name, kind))
        lines.append("%s %s" % (name, value))
    return "\n".join(lines) + "\n"


async def metrics(request):
    return web.Response(body=render(request.app[state.STATE]).encode(), headers={"Content-Type": CONTENT_TYPE})


def routes():
    return [web.get("/metrics", metrics)]
