"""px.command and px.on_command on a board (plexus_board.attributes): the
client's BoardCommands, made at the first of them and given to its
WebSocket link. (Apart from plexus_board.commands so that module compiles
in a small heap.)"""

from plexus_core.errors import NotOnBoardError


def command(px):
    """px.command: the decorator (declared to the gateway on the next connection)."""
    return commands(px).command


def on_command(px):
    return commands(px).on_command


def commands(px):
    if px._commands is None:
        if px.transport != "ws":
            raise NotOnBoardError("commands arrive over the device WebSocket: create "
                                  "the client with transport='ws'")
        from plexus_board.commands import BoardCommands
        px._commands = BoardCommands(px._mono.ms)
        if px._link is not None:
            px._link.commands = px._commands
    return px._commands
