"""`GET /metrics` on a real gateway: Prometheus text format, counters that
follow what the gateway stored and acknowledged, and nothing secret in it."""

import json
import re
import urllib.request

from support.raw import device, ingest, next_of, point, wait_for

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-z_]+="[^"]*"\})? (-?[0-9.e+]+)$')


def scrape(gw):
    with urllib.request.urlopen(gw.url + "/metrics", timeout=60) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return r.read().decode()


def parse(text):
    """{name: value}, checking every line is a HELP, a TYPE or a sample of a declared series."""
    declared, values = set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:]
            assert kind in ("gauge", "counter")
            assert name not in declared
            declared.add(name)
            continue
        m = SAMPLE.match(line)
        assert m, "not a Prometheus sample line: %r" % line
        assert m.group(1) in declared, "%s sampled before its TYPE" % m.group(1)
        values[m.group(1)] = float(m.group(3))
    return values


def test_metrics_count_what_was_stored_and_acknowledged(gateway):
    before = parse(scrape(gateway))
    assert before["plexus_gateway_devices_connected"] == 0 and before["plexus_gateway_queue_points"] == 0
    assert before["plexus_gateway_queue_limit_points"] == 50000
    assert before["process_resident_memory_bytes"] > 1e6

    ws, _ = device(gateway, "meter-1")
    for seq in (1, 2, 3):
        ws.send(json.dumps({"type": "telemetry", "seq": seq, "points": [point(seq * 10 + i) for i in range(4)]}))
        assert next_of(ws, "telemetry_ack")["seq"] == seq
    assert ingest(gateway, [point(100), point(101)], source_id="meter-2")[0] == 200
    after = parse(scrape(gateway))
    assert after["plexus_gateway_devices_connected"] == 1
    assert after["plexus_gateway_telemetry_frames_total"] == 3
    assert after["plexus_gateway_acks_sent_total"] == 3
    assert after["plexus_gateway_frames_stored_total"] == 4
    assert after["plexus_gateway_points_stored_total"] == 14 == gateway.count("meter-1") + gateway.count("meter-2")
    assert after["plexus_gateway_ingest_requests_total"] == 1
    assert after["plexus_gateway_ingest_503_total"] == 0
    assert after["plexus_gateway_queue_points"] == 0 and after["plexus_gateway_lag_seconds"] == 0
    assert after["process_cpu_seconds_total"] >= before["process_cpu_seconds_total"]
    ws.close()
    wait_for(lambda: parse(scrape(gateway))["plexus_gateway_devices_connected"] == 0, what="device gone")


def test_metrics_carry_no_key_and_no_source_id(gateway):
    ws, _ = device(gateway, "secret-rig-9")
    text = scrape(gateway)
    assert "secret-rig-9" not in text and gateway.key not in text and gateway.key[:12] not in text
    ws.close()


def test_the_gateway_says_where_its_metrics_are(gateway):
    assert "queue depth, lag and counters: %s/metrics" % gateway.url in gateway.log()
