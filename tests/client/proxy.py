"""A real TCP proxy on 127.0.0.1 that can cut connections, also mid-frame.

Tests put it between the client and the gateway to break the link in ways a
Wi-Fi drop does: `cut()` resets every open connection now; `cut_every(lo, hi)`
resets each connection after it forwarded a random number of client bytes
in [lo, hi), so cuts land inside frames; `refuse(True)` drops new connections
at once; `mute(True)` keeps connections open but stops forwarding what the
gateway says (acknowledgements vanish). `connections` counts accepted
connections.
"""

import random
import select
import socket
import struct
import threading


class TcpProxy:
    def __init__(self, target_port, target_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.ws_url = "ws://127.0.0.1:%d" % self.port
        self.connections = 0
        self.cuts = 0
        self._refuse = False
        self._mute = False
        self._cut_range = None
        self._rand = random.Random(1234)
        self._open = set()
        self._lock = threading.Lock()
        self._stop = False
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    def refuse(self, on=True):
        self._refuse = on
        if on:
            self.cut()

    def mute(self, on=True):
        self._mute = on

    def cut_every(self, lo, hi):
        """Reset each new connection after lo..hi client bytes (None: never)."""
        self._cut_range = None if lo is None else (lo, hi)

    def cut(self):
        with self._lock:
            pairs = list(self._open)
        for pair in pairs:
            self._reset(pair)

    def close(self):
        self._stop = True
        self.cut()
        try:
            self.listener.close()
        except OSError:
            pass

    def _accept(self):
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            if self._refuse:
                _hard_close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                _hard_close(client)
                continue
            limit = None
            if self._cut_range:
                limit = self._rand.randrange(*self._cut_range)
            pair = (client, upstream)
            with self._lock:
                self._open.add(pair)
            threading.Thread(target=self._pump, args=(pair, limit), daemon=True,
                             name="proxy-pump").start()

    def _reset(self, pair):
        with self._lock:
            if pair not in self._open:
                return
            self._open.discard(pair)
            self.cuts += 1
        for s in pair:
            _hard_close(s)

    def _pump(self, pair, limit):
        client, upstream = pair
        sent = 0
        try:
            while True:
                r, _, _ = select.select([client, upstream], [], [], 1.0)
                if self._stop:
                    break
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        raise OSError("closed")
                    if s is client:
                        if limit is not None and sent + len(data) >= limit:
                            upstream.sendall(data[: max(0, limit - sent)])
                            raise OSError("cut")
                        sent += len(data)
                        upstream.sendall(data)
                    elif not self._mute:
                        client.sendall(data)
        except (OSError, ValueError):
            pass
        self._reset(pair)


def _hard_close(s):
    """Close with RST, like a link that vanished (no orderly FIN)."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
