"""What only the CPython package can do: on a board these calls raise
NotOnBoardError saying where to run them (plexus_board.client.LATER)."""

from plexus_core.errors import NotOnBoardError


def _cpython_only(name):
    def call(*a, **kw):
        raise NotOnBoardError("%s() needs the CPython package (pip install 'plexus[video]' "
                              "on a Linux computer); a board has no video" % name)
    return call


def send_video_frame(px):
    return _cpython_only("send_video_frame")


def stream_camera(px):
    return _cpython_only("stream_camera")
