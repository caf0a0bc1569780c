"""Where settings come from (docs/protocol.md §5), resolved once per client.

Order for every setting: constructor argument, then environment variable,
then ~/.plexus/config.json (or $PLEXUS_CONFIG_DIR/config.json), then the
default. When only one of the gateway URLs is configured the other is derived
from it (http <-> ws, https <-> wss), so a local gateway needs one setting.
When a gateway URL is configured and the app endpoint is not, the endpoint
(runs API) is the gateway too: the local gateway serves /api/runs.
"""

import hashlib
import json
import os
import random
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from plexus_core.source_id import check_source_id

DEFAULT_ENDPOINT = "https://app.plexus.company"
DEFAULT_GATEWAY_URL = "https://gateway.plexus.company"
DEFAULT_GATEWAY_WS_URL = "wss://gateway.plexus.company"
DEFAULTS = {"api_key": None, "source_id": None, "persistent_buffer": True}


@dataclass
class RetryConfig:
    """Spacing of HTTP retries (docs/protocol.md §2.4), same fields as plexus-python.

    Retries happen on the background sender, never on the caller's thread,
    and a reading is never given up on: `max_retries` only decides when the
    failure is reported (as PlexusError on a later call).
    """

    max_retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    exponential_base: float = 2.0
    jitter: bool = True

    def get_delay(self, attempt: int) -> float:
        """Seconds before retry `attempt` (0-based): exponential, capped, jittered 0.5-1x."""
        delay = min(self.base_delay * (self.exponential_base ** min(attempt, 64)), self.max_delay)
        if self.jitter:
            delay *= 0.5 + random.random() * 0.5
        return delay


def config_dir() -> Path:
    d = os.environ.get("PLEXUS_CONFIG_DIR")
    return Path(d) if d else Path.home() / ".plexus"


def config_path() -> Path:
    return config_dir() / "config.json"


# The fields the SDK reads from config.json and the type each must have.
FIELD_TYPES = {"api_key": str, "gateway_url": str, "gateway_ws_url": str, "api_url": str,
               "endpoint": str, "source_id": str, "persistent_buffer": bool}


class ConfigError(ValueError):
    """config.json cannot be used; the message names the file, the line and the field."""


def _line_of(text, field):
    """1-based line where `"field"` appears in the file's text, or None."""
    at = text.find('"%s"' % field)
    return text.count("\n", 0, at) + 1 if at >= 0 else None


def _describe(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return "the number %s" % json.dumps(v)
    if isinstance(v, (list, dict)):
        return "a JSON " + ("list" if isinstance(v, list) else "object")
    return json.dumps(v)


def read_config(path=None) -> dict:
    """The file's settings ({} when there is none). Raises ConfigError for a
    file that is not JSON, not an object, or has a field of the wrong type."""
    path = Path(path) if path else config_path()
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError("%s cannot be read: %s" % (path, getattr(e, "strerror", None) or e)) from None
    fix = "fix it, or delete it and run `plexus init`"
    try:
        data = json.loads(text)
    except ValueError as e:
        where = "line %d column %d: " % (e.lineno, e.colno) if hasattr(e, "lineno") else ""
        raise ConfigError("%s %sis not valid JSON (%s): %s" % (
            path, where, getattr(e, "msg", e), fix)) from None
    if not isinstance(data, dict):
        raise ConfigError("%s line 1: must be a JSON object such as {\"api_key\": \"plx_...\"}, "
                          "not %s: %s" % (path, _describe(data), fix))
    for field, kind in FIELD_TYPES.items():
        v = data.get(field)
        if v is not None and not isinstance(v, kind):
            line = _line_of(text, field)
            want = "true or false" if kind is bool else "a string in quotes" + (
                ' such as "plx_..."' if field == "api_key" else "")
            raise ConfigError("%s%s: field %s must be %s, not %s: %s" % (
                path, " line %d" % line if line else "", field, want, _describe(v), fix))
    return data


def load_config(strict=False) -> dict:
    """The config file merged over the defaults. A file that cannot be used
    raises ConfigError when `strict`, else counts as no file."""
    try:
        data = read_config()
    except ConfigError:
        if strict:
            raise
        return dict(DEFAULTS)
    return {**DEFAULTS, **data}


def save_config(config: dict) -> None:
    """Write the config file (dir 0700, file 0600: it may hold the API key)."""
    d = config_dir()
    d.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(d, 0o700)
    except OSError:
        pass
    path = config_path()
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(config, f, indent=2)
    os.replace(tmp, path)


def quiet() -> bool:
    """PLEXUS_QUIET, read on every call so it can be changed at run time."""
    return os.environ.get("PLEXUS_QUIET", "").strip().lower() in ("1", "true", "yes")


def say(message: str) -> None:
    """One `[plexus] ...` status line on stderr (never carries the API key)."""
    if not quiet():
        try:
            sys.stderr.write("[plexus] %s\n" % message)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def env_setting(name):
    """An environment variable's value; unset and blank are both None."""
    v = os.environ.get(name, "").strip()
    return v or None


def _swap_scheme(url, to_ws):
    pairs = (("https://", "wss://"), ("http://", "ws://"))
    for http, ws in pairs:
        a, b = (http, ws) if to_ws else (ws, http)
        if url.startswith(a):
            return b + url[len(a):]
    return url


def _check_url(name, url, schemes):
    if not any(url.startswith(s) for s in schemes):
        raise ValueError("%s %r must start with %s" % (name, url, " or ".join(schemes)))
    return url


def strip_ws_path(url):
    """ws://h/ws/device -> ws://h (the path is appended when connecting)."""
    url = url.rstrip("/")
    if url.endswith("/ws/device"):
        url = url[: -len("/ws/device")]
    return url.rstrip("/")


class Settings:
    """Everything the client needs to know before it starts, resolved once."""

    def __init__(self, api_key=None, source_id=None, endpoint=None, ws_url=None,
                 gateway_url=None, persistent_buffer=None):
        try:
            cfg, broken = load_config(strict=True), None
        except ConfigError as e:
            cfg, broken = dict(DEFAULTS), e
        # A broken file is named, never taken for "no key", and never
        # overwritten with a new source id; otherwise it is only ignored.
        if broken is not None and (source_id is None or not (api_key or env_setting("PLEXUS_API_KEY"))):
            raise broken
        if broken is not None:
            say("ignoring the config file: %s" % broken)
        self.api_key = api_key or env_setting("PLEXUS_API_KEY") or cfg.get("api_key")
        if not self.api_key or not isinstance(self.api_key, str):
            raise ValueError("No API key. Pass Plexus(api_key=...) or set PLEXUS_API_KEY "
                             "(create a key at app.plexus.company/api, or with "
                             "`plexus gateway keys create` for a local gateway).")

        http = gateway_url or env_setting("PLEXUS_GATEWAY_URL") or cfg.get("gateway_url")
        ws = ws_url or env_setting("PLEXUS_GATEWAY_WS_URL") or cfg.get("gateway_ws_url")
        if http and not ws:
            ws = _swap_scheme(http.rstrip("/"), True)
        if ws and not http:
            http = _swap_scheme(strip_ws_path(ws), False)
        custom_gateway = bool(http)
        self.gateway_url = _check_url("gateway URL", (http or DEFAULT_GATEWAY_URL).rstrip("/"),
                                      ("http://", "https://"))
        self.ws_url = _check_url("WebSocket URL", strip_ws_path(ws or DEFAULT_GATEWAY_WS_URL),
                                 ("ws://", "wss://"))
        ep = endpoint or env_setting("PLEXUS_ENDPOINT") or cfg.get("endpoint")
        if not ep and custom_gateway:
            ep = self.gateway_url
        self.endpoint = (ep or DEFAULT_ENDPOINT).rstrip("/")

        if persistent_buffer is None:
            persistent_buffer = cfg.get("persistent_buffer", True) is not False
        self.persistent_buffer = bool(persistent_buffer)

        if source_id is None:
            source_id = cfg.get("source_id") or _new_source_id(cfg)
        self.source_id = check_source_id(source_id)

    def __repr__(self):
        return "Settings(source_id=%r, gateway_url=%r, ws_url=%r)" % (
            self.source_id, self.gateway_url, self.ws_url)


def _new_source_id(cfg):
    """A fresh `source-<8 hex>` saved to the config so the next start reuses it."""
    sid = "source-" + uuid.uuid4().hex[:8]
    cfg = dict(cfg)
    cfg["source_id"] = sid
    try:
        save_config(cfg)
    except OSError:
        pass  # a read-only home still gets a working (if unstable) id
    return sid


def buffer_path_for(source_id: str) -> Path:
    """~/.plexus/buffer-<source_id>.db, one file per source (same name as plexus-python 0.16)."""
    name = source_id
    if len(name) > 100:
        name = hashlib.sha256(name.encode()).hexdigest()[:32]
    return config_dir() / ("buffer-%s.db" % name)


def legacy_buffer_path() -> Path:
    """The shared buffer of plexus-python <= 0.13, adopted by the first client to start."""
    return config_dir() / "buffer.db"
