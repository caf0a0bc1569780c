"""HTTP/1.1 heads, sans-I/O: the request head out, the response head in.

Shared by POST /ingest (plexus_board.http11 reads the body after it) and the
WebSocket upgrade (plexus_board.wshandshake needs nothing more), so a connect
does not load the body codec.
"""

MAX_HEAD = 8192     # a longer response head is refused


def request_head(method, host, path, headers=None, length=None):
    """The request line and headers as bytes, ending with the blank line."""
    lines = ["%s %s HTTP/1.1" % (method, path or "/"), "Host: " + host]
    if length is not None:
        lines.append("Content-Length: %d" % length)
    if headers:
        for k in headers:
            lines.append("%s: %s" % (k, headers[k]))
    lines.append("\r\n")
    return "\r\n".join(lines).encode()


def parse_head(head):
    """(status, {lowercase name: value}) from a response head (bytes, without
    the blank line). Raises ValueError on anything that is not HTTP/1.x."""
    lines = bytes(head).decode().split("\r\n")
    first = lines[0].split(" ", 2)
    if len(first) < 2 or not first[0].startswith("HTTP/1.") or not first[1].isdigit():
        raise ValueError("not an HTTP/1.x response: %r" % lines[0][:60])
    headers = {}
    for line in lines[1:]:
        i = line.find(":")
        if i > 0:
            headers[line[:i].strip().lower()] = line[i + 1:].strip()
    return int(first[1]), headers
