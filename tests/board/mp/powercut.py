"""Power cuts against the flash log, inside MicroPython.

micropython powercut.py CORE_DIR MP_DIR SEED PROGSIZE SMALL_ACTIONS LONG_ACTIONS RANDOM_CUTS

A workload (stage readings, seal segments, acknowledge and delete the oldest,
evict when full) runs once on a journalling RAM flash. A cut at operation N
is the image after operations 0..N-1, plus the first half of operation N when
the cut tears it. For every cut point of a small log and RANDOM_CUTS seeded
cut points of a long one (each torn and clean), the image is mounted, the log
recovered and checked:
  - the filesystem mounts;
  - every segment closed before the cut and not yet deleted is recovered with
    its batch id and exact bytes; every segment whose delete finished is gone;
  - nothing else is recovered, and every recovered payload is whole readings;
  - delivering the recovered segments to a gateway that de-duplicates on
    batch id stores every closed, un-evicted segment exactly once;
  - the log keeps working: a new segment gets a higher number and a new id.
Prints `cuts: N checked, F failed` per campaign, exits 1 on any failure.
"""

import json
import random
import sys

sys.path.insert(0, sys.argv[2])
sys.path.insert(0, sys.argv[1])

import vfs
from flashsim import Flash, apply, mkfs, mount, read_segment
from plexus_board.flashlog import FlashLog

BLOCKS = 48
MAX_SEGMENTS = 20


class Recording:
    """The workload run once, with the journal index before/after each step."""

    def __init__(self, seed, actions, progsize):
        random.seed(seed)
        self.progsize = progsize
        flash = Flash(BLOCKS)
        mkfs(flash, progsize)
        self.base = bytes(flash.data)
        flash.journal = j = []
        mount(flash, "/rec", progsize)
        log = FlashLog("/rec/px", 4096, MAX_SEGMENTS, prefix="boot0")
        self.writes = {}    # seq -> (start, end)
        self.deletes = {}   # seq -> (start, end)
        self.content = {}   # seq -> (batch_id, payload bytes)
        self.acked = {}     # seq -> True when deleted because the gateway stored it
        self.gateway = {}   # batch id -> payload, before the cut
        write, remove = log._write, log._remove

        def rec_write(data, n, npts):
            s = len(j)
            seq = write(data, n, npts)
            self.writes[seq] = (s, len(j))
            self.content[seq] = (log.batch_id(seq), bytes(memoryview(data)[:n]))
            return seq

        def rec_remove(seq):
            s = len(j)
            remove(seq)
            if seq in self.writes:
                self.deletes[seq] = (s, len(j))

        log._write = rec_write
        log._remove = rec_remove
        self.discarded = 0  # torn segments recovery removed, over all cuts
        self.steps = []  # journal index after each action
        r = 0
        for _ in range(actions):
            x = random.random()
            if x < 0.65:
                k = random.randint(1, 4) if random.random() < 0.5 else random.randint(20, 160)
                for _ in range(k):
                    r += 1
                    log.add('{"class":"metric","metric":"m%d","value":%d,"timestamp":%d}'
                            % (r % 7, r, 1760000000000 + r) + " " * random.randint(0, 40))
                if random.random() < 0.5:
                    log.seal()
            else:
                for seq in list(log.seqs[:random.randint(1, 3)]):
                    bid, payload = self.content[seq]
                    got = read_segment(log, seq)
                    assert got[0] == bid and bytes(got[1]) == payload
                    self.gateway[bid] = (payload, len(j))
                    self.acked[seq] = True
                    log.delete(seq)
            self.steps.append(len(j))
        vfs.umount("/rec")
        self.journal = j


def check(rec, n, torn, image):
    """Mount the image cut at operation n; returns a list of problems."""
    bad = []
    flash = Flash(BLOCKS, image=image)
    try:
        mount(flash, "/cut", rec.progsize)
    except OSError as e:
        return ["cut %d torn=%s: mount failed: %r" % (n, torn, e)]
    try:
        bad = _check_log(rec, n, torn)
    finally:
        vfs.umount("/cut")
    return bad


def _check_log(rec, n, torn):
    bad = []
    where = "cut %d torn=%s" % (n, torn)
    last = len(rec.journal)

    def begun(start):
        return start < n or (start == n and torn and n < last)

    def done(end):
        return end <= n

    log = FlashLog("/cut/px", 4096, MAX_SEGMENTS, prefix="boot1")
    rec.discarded += log.discarded
    got = set(log.seqs)
    gateway = {}
    for bid in rec.gateway:
        payload, at = rec.gateway[bid]
        if at <= n:
            gateway[bid] = payload
    for seq in rec.writes:
        ws, we = rec.writes[seq]
        d = rec.deletes.get(seq)
        must = done(we) and (d is None or not begun(d[0]))
        gone = not begun(ws) or (d is not None and done(d[1]))
        if must and seq not in got:
            bad.append("%s: closed segment %d lost" % (where, seq))
        if gone and seq in got:
            bad.append("%s: segment %d recovered but %s" % (
                where, seq, "never written" if not begun(ws) else "deleted"))
    for seq in list(log.seqs):
        r = read_segment(log, seq)
        if r is None or seq not in rec.content:
            bad.append("%s: segment %d unreadable or unknown" % (where, seq))
            continue
        bid, payload = rec.content[seq]
        if r[0] != bid or bytes(r[1]) != payload:
            bad.append("%s: segment %d differs from what was written" % (where, seq))
            continue
        readings = json.loads("[" + bytes(r[1]).decode() + "]")
        if len(readings) != r[2]:
            bad.append("%s: segment %d holds %d readings, header says %d" % (where, seq, len(readings), r[2]))
        if bid in gateway and gateway[bid] != payload:
            bad.append("%s: batch id %s reused for other readings" % (where, bid))
        gateway[bid] = payload  # de-duplicated on batch id, as the gateway does
        log.delete(seq)
    for seq in rec.writes:
        if done(rec.writes[seq][1]) and seq not in rec.acked:
            d = rec.deletes.get(seq)
            evicted = d is not None and begun(d[0])
            if not evicted and rec.content[seq][0] not in gateway:
                bad.append("%s: closed segment %d never delivered" % (where, seq))
    for seq in rec.acked:
        if done(rec.deletes[seq][1]) and rec.content[seq][0] not in gateway:
            bad.append("%s: acknowledged segment %d missing at the gateway" % (where, seq))
    # the log goes on after the cut
    log.add('{"class":"metric","metric":"after","value":1,"timestamp":1760000000000}')
    seq = log.seal()
    if got and seq <= max(got):
        bad.append("%s: new segment %d reuses a number" % (where, seq))
    r = read_segment(log, seq)
    if r is None or r[0] in gateway:
        bad.append("%s: new segment unreadable or its batch id was used" % where)
    return bad


def campaign(rec, cuts, label):
    cuts = sorted(cuts)
    image = bytearray(rec.base)
    pos = 0
    failed = []
    checked = 0
    for n, torn in cuts:
        while pos < n:
            apply(image, 4096, rec.journal[pos])
            pos += 1
        img = bytearray(image)
        if torn and n < len(rec.journal):
            apply(img, 4096, rec.journal[n], True)
        failed.extend(check(rec, n, torn, img))
        checked += 1
    for f in failed[:20]:
        print("FAIL", f)
    print("%s: %d segments, %d operations, %d torn segments discarded; cuts: %d checked, %d failed"
          % (label, len(rec.writes), len(rec.journal), rec.discarded, checked, len(failed)))
    return not failed


def main():
    seed = int(sys.argv[3])
    progsize = int(sys.argv[4]) or None
    small = Recording(seed, int(sys.argv[5]), progsize)
    every = [(n, t) for n in range(len(small.journal) + 1) for t in (False, True)]
    ok = campaign(small, every, "small log, every cut")
    long = Recording(seed + 1, int(sys.argv[6]), progsize)
    random.seed(seed + 2)
    k = int(sys.argv[7])
    cuts = [(random.randint(0, len(long.journal)), random.random() < 0.5) for _ in range(k)]
    ok = campaign(long, cuts, "long log, random cuts") and ok
    sys.exit(0 if ok else 1)


main()
