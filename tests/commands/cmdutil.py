"""Helpers for command tests: a device on the gateway, the Data API, waits."""

from plexus import Plexus
from plexus.data_client import DataClient, source_path
from support.waiting import wait_for  # noqa: F401  (re-exported for the command tests)

FINAL = ("succeeded", "failed", "expired")


def device(gateway, source_id="rig-1", **kw):
    return Plexus(api_key=gateway.key, source_id=source_id, ws_url=gateway.ws_url,
                  persistent_buffer=False, **kw)


class Api:
    """The Data API of the gateway, as an operator uses it."""

    def __init__(self, gateway, key=None):
        self.client = DataClient(gateway.url, key or gateway.key)

    def post(self, source_id, rest, body):
        r = self.client.request("POST", source_path(source_id, rest), body=body, check=False)
        return r.status, r.data

    def get(self, source_id, rest=""):
        r = self.client.request("GET", source_path(source_id, rest), check=False)
        return r.status, r.data

    def declared(self, source_id):
        status, data = self.get(source_id)
        return sorted(c["name"] for c in (data or {}).get("commands") or []) if status == 200 else []

    def start(self, source_id, command, params=None, ttl_s=None):
        body = {"command": command, "params": params or {}}
        if ttl_s is not None:
            body["ttl_s"] = ttl_s
        status, data = self.post(source_id, "/runs", body)
        assert status in (200, 201), (status, data)
        return data["run_id"]

    def run(self, source_id, run_id):
        status, data = self.get(source_id, "/runs/" + run_id)
        assert status == 200, (status, data)
        return data

    def wait_run(self, source_id, run_id, states=FINAL, timeout=60.0):
        return wait_for(lambda: (lambda r: r if r["state"] in states else None)(self.run(source_id, run_id)),
                        timeout, "run %s to reach %s" % (run_id, "/".join(states)))

    def send_legacy(self, source_id, command, params=None):
        return self.post(source_id, "/commands", {"command": command, "params": params or {}})

    def legacy_events(self, source_id, cid):
        status, data = self.get(source_id, "/commands/" + cid)
        return [e.get("event") for e in (data or {}).get("events", [])] if status == 200 else []
