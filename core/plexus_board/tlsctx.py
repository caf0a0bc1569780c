"""Client TLS for the board transports: verify the gateway against a CA.

Loaded only when the gateway URL is https/wss (plexus_board.net.tls_context).
"""


def context(ca):
    """A client TLS context that verifies the server against `ca` (DER or PEM
    bytes). With ca=None nothing is verified: callers allow that only when
    the user asked for it explicitly."""
    try:
        import ssl
        kw = True
    except ImportError:  # a board without the ssl wrapper: the built-in tls module
        import tls as ssl
        kw = False
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca is None:
        if hasattr(ctx, "check_hostname"):
            ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.verify_mode = ssl.CERT_REQUIRED
        if kw:
            ctx.load_verify_locations(cadata=ca)
        else:
            ctx.load_verify_locations(ca)
    return ctx
