"""Bridge an MQTT broker to Plexus with paho-mqtt: every message on the
subscribed topics becomes a reading.

    pip install paho-mqtt                            # or, in a checkout: pip install -e '.[examples]'
    python examples/mqtt.py --broker 127.0.0.1 --topic 'sensors/#'
    mosquitto_pub -t sensors/boiler/temp_c -m 71.5     # -> metric sensors.boiler.temp_c = 71.5
    mosquitto_pub -t sensors/boiler -m '{"temp_c": 71.5, "state": "heating"}'
                                                       # -> sensors.boiler.temp_c = 71.5, event sensors.boiler.state

Topic levels become dotted metric names. A number is a metric; a JSON
object is split into one reading per field; anything else is an event.
paho calls on_message on its network thread: send() only queues, so it is
safe and fast to call there.
"""

import argparse
import json
import threading

import paho.mqtt.client as mqtt

from plexus import Plexus


def to_readings(topic, payload):
    """[(metric, value)] for one MQTT message."""
    name = topic.strip("/").replace("/", ".")
    text = payload.decode("utf-8", "replace").strip()
    try:
        value = json.loads(text)
    except ValueError:
        value = text  # plain text: an event
    if isinstance(value, dict):
        return [("%s.%s" % (name, k), v) for k, v in value.items() if v is not None]
    return [(name, value)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--broker", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--topic", default="sensors/#", help="topic filter to bridge")
    ap.add_argument("--source-id", default="mqtt-bridge")
    ap.add_argument("--count", type=int, default=0, help="stop after N messages (default: run until Ctrl-C)")
    args = ap.parse_args()

    px = Plexus(source_id=args.source_id)
    done = threading.Event()
    seen = [0, 0]  # messages bridged, messages refused

    def on_connect(client, userdata, flags, reason_code, properties):
        # (re)subscribe on every connect: a broker restart forgets subscriptions
        client.subscribe(args.topic, qos=1)

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        print("subscribed to %s on %s:%d" % (args.topic, args.broker, args.port), flush=True)

    def on_message(client, userdata, msg):
        try:
            for metric, value in to_readings(msg.topic, msg.payload):
                px.send(metric, value, tags={"topic": msg.topic})
            seen[0] += 1
        except ValueError as e:  # e.g. a name over 256 bytes: say so, keep bridging
            seen[1] += 1
            print("skipped %s: %s" % (msg.topic, e), flush=True)
        if args.count and seen[0] + seen[1] >= args.count:
            done.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="plexus-" + args.source_id)
    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    client.connect(args.broker, args.port, keepalive=30)
    client.loop_start()  # paho's network thread; reconnects by itself
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        client.disconnect()
        client.loop_stop()
        ok = px.flush_buffer(timeout=30)
        print("bridged %d messages (%d skipped) as %s; %s"
              % (seen[0], seen[1], px.source_id, "all stored" if ok else "the rest stays buffered"))
        px.close()


if __name__ == "__main__":
    main()
