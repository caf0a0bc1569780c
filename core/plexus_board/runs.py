"""px.run on a board: `with px.run("hotfire-03"):` marks a test run in the
stream (plexus_board.client.LATER loads this on first use)."""


def run(px):
    return lambda name, tags=None, **kw: Run(px, name, tags)


class Run:
    """A `run` event when it starts and one when it ends (completed, or
    aborted on an exception), on the same clock as the readings."""

    def __init__(self, px, name, tags):
        if not isinstance(name, str) or not name:
            raise ValueError("run name must be a non-empty string, e.g. 'hotfire-03'")
        self.px = px
        self.name = name
        self.tags = tags

    def __enter__(self):
        self.px.event("run", {"name": self.name, "status": "started"}, tags=self.tags)
        return self

    def __exit__(self, typ, exc, tb):
        self.px.event("run", {"name": self.name,
                              "status": "aborted" if typ else "completed"}, tags=self.tags)
        return False
