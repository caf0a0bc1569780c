"""Gateway profiles: which device-side behaviour `plexus gateway --profile` offers.

`default` is the protocol of docs/protocol.md. `hosted-2026-08` behaves like
the hosted Plexus gateway's public snapshot of August 2026, so a client can be
tried here against what that gateway really does: it never acknowledges
telemetry, sends no clock-sync reply, keeps no batch_id (a resent batch is
stored again), closes without a goodbye, relays commands only as legacy
`typed_command`, and silently drops a source's telemetry message that arrives
less than 0.5 ms after its previous one.
"""


class Profile:
    def __init__(self, name, acks, clock_sync, batch_dedup, goodbye, commands_v1, silent_source_limit):
        self.name = name
        self.acks = acks                  # `authenticated` may offer acks; telemetry_ack is sent
        self.clock_sync = clock_sync      # heartbeats with `sync` get a `time` reply
        self.batch_dedup = batch_dedup    # a batch_id already stored is not stored again
        self.goodbye = goodbye            # shutdown closes device sockets with 1001
        self.commands_v1 = commands_v1    # `command_run` runs; else only `typed_command`
        # False: our per-source token bucket, answered with SOURCE_LIMIT. True:
        # the hosted ceiling (--source-rate N: at least 1/N s between two
        # messages of a source), a message over it dropped without a word.
        self.silent_source_limit = silent_source_limit


DEFAULT = Profile("default", acks=True, clock_sync=True, batch_dedup=True, goodbye=True, commands_v1=True,
                  silent_source_limit=False)
HOSTED_2026_08 = Profile("hosted-2026-08", acks=False, clock_sync=False, batch_dedup=False, goodbye=False,
                         commands_v1=False, silent_source_limit=True)
PROFILES = {p.name: p for p in (DEFAULT, HOSTED_2026_08)}
