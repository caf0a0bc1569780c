"""Commands (docs/protocol.md §4.10-4.11, §8): operators start them over HTTP, the
gateway relays them to the connected device and records what it reports.

Legacy commands (`typed_command` -> `command_result`) are fire-and-forget on
the wire; v1 runs (`command_run` -> `command_status`) are stored, expire on
their deadline, are delivered when the device connects if they were queued
while it was away, and are redelivered after a drop only when idempotent.
"""

import uuid

from aiohttp import web

from plexus.gateway.data_api import known_source
from plexus.gateway.errors import ApiError, Invalid
from plexus.gateway.jsontext import json_response
from plexus.gateway.profile import DEFAULT
from plexus.gateway.state import require_source
from plexus.gateway.store import now_ms
from plexus_core.commands import is_name

DEFAULT_TTL_S = 30.0


class Commands:
    def __init__(self, store, hub, profile=DEFAULT):
        self.store = store
        self.hub = hub
        self.profile = profile

    # -- device side ------------------------------------------------------------
    def check_manifest(self, conn):
        """Error frames for v1 manifest entries the gateway cannot use; those
        entries are left out of the source's command list."""
        if conn.protocol != 1 or not self.profile.commands_v1:
            return []
        errors, good = [], []
        for entry in conn.commands:
            name = entry.get("name") if isinstance(entry, dict) else None
            if is_name(name) and isinstance(entry.get("params", {}), dict):
                good.append(entry)
            else:
                errors.append({"type": "error", "code": "invalid_command",
                               "detail": "command %r: name must match [a-z][a-z0-9_]* (at most 64) and params "
                                         "must be an object" % (name,)})
        conn.commands = good
        return errors

    async def device_connected(self, conn):
        if not self.profile.commands_v1:
            return
        for run in await self.store.open_runs(conn.source_id):
            if run["attempt"] == 0 and now_ms() >= run["deadline_ms"]:
                run["state"] = "expired"  # queued while the device was away, and too late now
                await self.store.put_run(run)
            elif run["attempt"] == 0 or (run["idempotent"] and now_ms() < run["deadline_ms"]):
                await self._deliver(conn, run)

    async def device_frame(self, conn, f):
        t = f["type"]
        if t == "command_result":
            if isinstance(f.get("id"), str):
                await self.store.command_event(f["id"], conn.source_id, f)
            self.hub.publish_notice(conn.source_id, f)  # browsers see results, as on the hosted gateway
        elif t == "command_status":
            await self._status(conn, f)
        elif t == "command_sync":
            for r in f.get("runs") or []:
                run = await self.store.get_run(r.get("run_id")) if isinstance(r, dict) else None
                if run is not None and run["source_id"] == conn.source_id and run["seq"] > 0:
                    await conn.send({"type": "command_status_ack", "run_id": run["run_id"], "seq": run["seq"]})

    async def _status(self, conn, f):
        run_id, seq, state = f.get("run_id"), f.get("seq"), f.get("state")
        if not isinstance(run_id, str) or type(seq) is not int or seq < 1:
            await conn.send({"type": "error", "code": "INVALID_MESSAGE",
                             "detail": "command_status needs run_id (string) and seq (integer >= 1)"})
            return
        run = await self.store.get_run(run_id)
        if run is not None and run["source_id"] == conn.source_id and seq > run["seq"]:
            status = {k: f[k] for k in ("seq", "state", "progress", "result", "error_code", "error_message",
                                        "message") if k in f}
            run["statuses"].append(status)
            run["seq"] = seq
            if state == "progress":
                run["progress"] = f.get("progress")
                run["state"] = "running"
            elif state in ("acknowledged", "running", "succeeded", "failed"):
                run["state"] = state
            for k in ("result", "error_code", "error_message", "message"):
                if k in f:
                    run[k] = f[k]
            if state == "succeeded":
                run["progress"] = 100.0
            await self.store.put_run(run)
        # Acknowledged even when unknown or old, so the device stops replaying it.
        await conn.send({"type": "command_status_ack", "run_id": run_id, "seq": seq})

    async def _deliver(self, conn, run):
        run["attempt"] += 1
        await self.store.put_run(run)
        await conn.send({"type": "command_run", "run_id": run["run_id"], "command": run["command"],
                         "params": run["params"], "ttl_ms": max(0, run["deadline_ms"] - now_ms()),
                         "attempt": run["attempt"]})

    # -- HTTP side --------------------------------------------------------------
    async def _target(self, request, scope):
        return (await require_source(request, scope))[1]

    @staticmethod
    async def _body(request):
        """The body {"command": NAME, "params": {...}}; a wrong one is a 422, as FastAPI answers it."""
        try:
            body = await request.json()
        except ValueError as e:
            raise Invalid("body", 0, "json_invalid", "JSON decode error: %s" % e, {}) from None
        if not isinstance(body, dict):
            raise Invalid("body", None, "model_attributes_type", 'body must be {"command": NAME, "params": {...}}',
                          body)
        if "command" not in body:
            raise Invalid("body", "command", "missing", "Field required", body)
        if not isinstance(body["command"], str) or not body["command"]:
            raise Invalid("body", "command", "string_type", "command must be a non-empty string", body["command"])
        params = body.get("params") if body.get("params") is not None else {}
        if not isinstance(params, dict):
            raise Invalid("body", "params", "dict_type", "Input should be a valid dictionary", params)
        return body, params

    async def send_legacy(self, request):
        sid = await self._target(request, "commands")
        body, params = await self._body(request)
        conn = self.hub.device(sid)
        if conn is None and not self.hub.held_elsewhere(sid):
            return json_response({"queued": False})  # offline or never seen: not queued, as the hosted API answers
        cid = str(uuid.uuid4())
        if not self.profile.commands_v1:  # the hosted relay always names the target source in the params
            params = dict(params, source_id=sid)
        await self.store.new_command(cid, sid, body["command"], params)  # announced to the holding replica
        if conn is not None:
            await conn.send({"type": "typed_command", "id": cid, "command": body["command"], "params": params})
        return json_response({"queued": True, "id": cid})

    async def get_legacy(self, request):
        sid = await self._target(request, "read")
        cmd = await self.store.get_command(sid, request.match_info["command_id"])
        if cmd is None:
            raise ApiError(404, "no such command")
        return json_response(cmd)

    async def start_run(self, request):
        sid = (await known_source(request, "commands"))[1]
        body, params = await self._body(request)
        conn = self.hub.device(sid)
        declared = conn.commands if conn is not None else await self._declared_elsewhere(sid)
        decl = next((c for c in declared if isinstance(c, dict) and c.get("name") == body["command"]), None)
        ttl = body.get("ttl_s", (decl or {}).get("expires_in_s", DEFAULT_TTL_S))
        if type(ttl) not in (int, float) or not 0 < ttl <= 86400:
            raise ApiError(400, "ttl_s must be a number of seconds from 0 to 86400")
        t = now_ms()
        run = {"run_id": uuid.uuid4().hex, "source_id": sid, "command": body["command"], "params": params,
               "created_ms": t, "deadline_ms": t + int(ttl * 1000), "idempotent": bool((decl or {}).get("idempotent")),
               "attempt": 0, "state": "queued", "seq": 0, "progress": None, "result": None, "error_code": None,
               "error_message": None, "message": None, "statuses": []}
        await self.store.put_run(run)
        if conn is not None:
            await self._deliver(conn, run)
        return json_response({"run_id": run["run_id"], "state": run["state"]}, status=201)

    async def get_run(self, request):
        sid = await self._target(request, "read")
        run = await self.store.get_run(request.match_info["run_id"])
        if run is None or run["source_id"] != sid:
            raise ApiError(404, "no such run")
        if run["state"] == "queued" and run["attempt"] == 0 and now_ms() >= run["deadline_ms"]:
            run["state"] = "expired"  # never delivered; a delivered run's outcome is the device's to report
            await self.store.put_run(run)
        return json_response(run)

    async def _declared_elsewhere(self, sid):
        """The manifest of a device held by another replica (as stored when it connected)."""
        if not self.hub.held_elsewhere(sid):
            return []
        src = await self.store.source(sid)
        return src["commands"] if src else []

    def routes(self):
        legacy = [
            web.post("/v1/sources/{source_id}/commands", self.send_legacy),
            web.get("/v1/sources/{source_id}/commands/{command_id}", self.get_legacy),
        ]
        if not self.profile.commands_v1:  # the hosted snapshot has no runs
            return legacy
        return legacy + [
            web.post("/v1/sources/{source_id}/runs", self.start_run),
            web.get("/v1/sources/{source_id}/runs/{run_id}", self.get_run),
        ]
