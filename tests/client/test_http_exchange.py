"""One HTTP request helper (plexus.http_transport.exchange) under both the
sender's /ingest and the Data API client: the gateway's clock from its Date
header, and one error for "no answer" that never carries the key."""

import socket
import time

import pytest

from plexus import http_transport
from plexus.data_client import DataClient, Unreachable
from plexus_core.ingest import date_ms

KEY = "plx_never_in_an_error"


def _near_now(ms):
    return ms % 1000 == 0 and abs(ms - time.time() * 1000) < 60000  # whole seconds, this machine's clock


def test_both_clients_read_the_gateway_clock_from_its_date_header(gateway):
    answer = {}
    body = '{"source_id":"clock-1","points":[{"metric":"m","value":1}]}'
    status, text = http_transport.ingest(gateway.url, gateway.key, body, answer=answer)
    assert status == 200 and '"count":1' in text.replace(" ", "")
    assert _near_now(answer["date_ms"])

    resp = DataClient(gateway.url, gateway.key).request("GET", "/v1/sources")
    assert resp.status == 200 and [d["source_id"] for d in resp.data["devices"]] == ["clock-1"]
    assert resp.server_time_ms() == date_ms(resp.headers["Date"]) and _near_now(resp.server_time_ms())


def test_an_error_status_is_an_answer_with_its_body_and_clock(gateway):
    answer = {}
    status, text = http_transport.request("POST", gateway.url + "/ingest", "plx_unknown", "{}", answer=answer)
    assert status == 401 and "invalid API key" in text and _near_now(answer["date_ms"])
    resp = DataClient(gateway.url, "plx_unknown").request("GET", "/v1/sources", check=False)
    assert (resp.status, resp.data) == (401, {"detail": "invalid API key"}) and _near_now(resp.server_time_ms())


@pytest.fixture
def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


def test_no_answer_is_one_error_without_the_key(closed_port):
    url = "http://127.0.0.1:%d" % closed_port
    with pytest.raises(http_transport.HttpUnavailable) as e:
        http_transport.ingest(url, KEY, "{}", timeout=5)
    assert "cannot reach 127.0.0.1:%d" % closed_port in str(e.value) and KEY not in str(e.value)
    with pytest.raises(Unreachable) as e:
        DataClient(url, KEY, timeout=5).sources()
    assert "cannot reach the gateway at %s" % url in str(e.value) and KEY not in str(e.value)
