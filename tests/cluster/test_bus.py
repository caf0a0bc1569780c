"""The bus contract: messages of any size cross in payloads under the
NOTIFY limit, to every other member and never back to the sender."""


from plexus.gateway import bus
from support import aio


def test_big_messages_are_cut_under_the_payload_limit_and_rebuilt():
    msg = {"t": "pts", "p": [["m%d" % i, "metric", i * 0.5, 1764000000000 + i, {"unit": "°C"}] for i in range(2000)]}
    payloads = bus.encode(msg)
    assert len(payloads) > 1 and all(len(p.encode()) <= bus.MAX_PAYLOAD for p in payloads)
    re = bus.Reassembler()
    out = [re.feed(p) for p in payloads]
    assert out[:-1] == [None] * (len(payloads) - 1) and out[-1] == msg
    assert bus.encode({"t": "hb"}) == ['m|{"t":"hb"}']


def test_a_lost_chunk_costs_one_message_not_the_stream():
    re = bus.Reassembler(keep=4)
    broken = bus.encode({"x": "a" * 20000})[:-1]     # its last chunk never arrives
    for p in broken:
        assert re.feed(p) is None
    for i in range(10):                               # more cut messages start; each completes
        parts = bus.encode({"n": i, "pad": "b" * 9000})
        assert [re.feed(p) for p in parts][-1]["n"] == i
    assert re.feed(bus.encode({"n": 99})[0]) == {"n": 99}
    assert len(re._parts) <= 4                         # the broken one was given up, memory stays bounded


def test_local_bus_reaches_every_other_member():
    async def go():
        got = {1: [], 2: [], 3: []}
        members = {i: bus.LocalBus("test-group") for i in got}
        for i, m in members.items():
            await m.start(got[i].append)
        await members[1].send({"t": "hb", "big": "z" * 30000})
        for m in members.values():
            await m.close()
        return got
    got = aio.run(go())
    assert got[1] == [] and [m["t"] for m in got[2]] == ["hb"] and got[3][0]["big"] == "z" * 30000
