"""Where the board client's less used attributes live (Plexus.__getattr__
asks here): one table, name -> (module, function), and px.name is
function(px). Each module loads when one of its attributes is first used,
and this table with the first of them: on a board every loaded line of
code, and every name in it, costs heap.
"""

LATER = {
    "send_batch": ("plexus_board.batches", "send_batch"),
    "run": ("plexus_board.runs", "run"),
    "poll_task": ("plexus_board.tasks", "poll_task"),
    "command": ("plexus_board.command_calls", "command"),
    "on_command": ("plexus_board.command_calls", "on_command"),
    "connected": ("plexus_board.status", "connected"),
    "evicted_points": ("plexus_board.status", "evicted_points"),
    "discarded_segments": ("plexus_board.status", "discarded_segments"),
    "clock_offset_ms": ("plexus_board.status", "clock_offset_ms"),
    "send_video_frame": ("plexus_board.unsupported", "send_video_frame"),
    "stream_camera": ("plexus_board.unsupported", "stream_camera"),
}


def get(px, name):
    where = LATER.get(name)
    if where is None:
        raise AttributeError(name)
    module, function = where
    return getattr(__import__(module, None, None, (function,)), function)(px)
