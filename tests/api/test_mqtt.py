"""Black-box tests of MQTT through the supervised Mosquitto: a registered device logs in with its
id and secret (and with nothing else), its telemetry reaches the time series, malformed payloads
are counted and the stream keeps going, a device cannot publish under another device's topics,
a burst at QoS 1 loses nothing, a fire alarm event raises an alert, and a kill -9 of citydesk
leaves no broker holding the port. Devices are mosquitto_pub processes. Until the MQTT bridge is
wired into serve (the port does not answer) the tests print SKIP and pass."""
import json
import re
import signal
import socket
import subprocess
import time

from harness import Server

DONGMEN = (22.5453, 114.1157)  # inside Luohu


def wait_for(fn, timeout=15.0):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.1)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wired(s):
    if not port_open(s.mqtt_port):
        print("SKIP test_mqtt: nothing listens on the MQTT port (the bridge is not wired yet)")
        return False
    return True


def pub(s, dev, secret, topic_dev=None, kind="telemetry", lines=None, message=None, qos=1):
    """mosquitto_pub as device `dev`; lines = one message per line (-l). Returns the exit code."""
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(s.mqtt_port), "-u", dev, "-P", secret,
            "-i", "dev-%s" % dev, "-q", str(qos), "-t", "citydesk/v1/%s/%s" % (topic_dev or dev, kind)]
    if lines is not None:
        p = subprocess.run(args + ["-l"], input="\n".join(lines) + "\n", capture_output=True, text=True,
                           timeout=120)
    else:
        p = subprocess.run(args + ["-m", message], capture_output=True, text=True, timeout=30)
    return p.returncode


def broker_log(s):
    try:
        with open(s.data + "/mosquitto/passwd") as f:
            users = [line.split(":")[0] for line in f]
        with open(s.data + "/mosquitto/mosquitto.log") as f:
            return "logins %s\n%s\n%s" % (users, f.read()[-3000:], s.log_tail(6000))
    except OSError:
        return ""


def create(s, tok, dev_id, dev_type="smoke_detector"):
    r = s.request("POST", "/api/v1/devices", {"id": dev_id, "type": dev_type, "lat": DONGMEN[0],
                                              "lng": DONGMEN[1]}, token=tok)
    assert r.status == 201, r
    return r.json()["secret"]


def metrics(s):
    r = s.request("GET", "/metrics")
    return r.body.decode() if r.status == 200 else ""


def metric_value(text, name):
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else None


def raw_points(s, tok, dev, metric, base, span_ms=3600000):
    r = s.request("GET", "/api/v1/devices/%s/series?metric=%s&from=%d&to=%d&step=raw&limit=10000"
                  % (dev, metric, base - 1000, base + span_ms), token=tok)
    if r.status != 200:
        return []
    return r.json()["points"]


def test_mqtt_devices_end_to_end():
    with Server(iot=True) as s:
        s.add_user("admin", "admin")
        tok = s.login("admin")
        if not wired(s):
            return
        sa = create(s, tok, "mq-1")
        sb = create(s, tok, "mq-2")
        # the registry's logins reach the broker within a tick and a reload
        assert wait_for(lambda: pub(s, "mq-1", sa, kind="status", message='{"status":"online"}') == 0), \
            "a registered device could not log in:\n" + broker_log(s)
        assert wait_for(lambda: pub(s, "mq-2", sb, kind="status", message='{"status":"online"}') == 0), \
            broker_log(s)
        assert pub(s, "mq-1", "0" * 64, kind="status", message='{"status":"online"}') != 0
        assert pub(s, "mq-1", sb, kind="status", message='{"status":"online"}') != 0
        assert pub(s, "nobody", sa, kind="status", message='{"status":"online"}') != 0
        assert wait_for(lambda: s.request("GET", "/api/v1/devices/mq-1", token=tok).json()["online"] is True)

        base = int(time.time() * 1000) - 10 * 60 * 1000
        before = metrics(s)
        m0 = metric_value(before, 'citydesk_mqtt_malformed_total{kind="telemetry"}') or 0

        # good and malformed payloads interleaved: the bad ones are counted, the stream goes on
        bad = ["not json", '{"values":{"seq":"high"}}', '{"values":{"seq":1},"colour":"red"}',
               '{"values":{}}', '{"ts":12,"values":{"seq":1}}', "[1,2,3]"]
        lines = []
        for i in range(60):
            lines.append(json.dumps({"ts": base + i * 1000, "values": {"seq": i}}))
            if i % 10 == 5:
                lines.append(bad[(i // 10) % len(bad)])
        assert pub(s, "mq-1", sa, lines=lines) == 0
        pts = wait_for(lambda: (lambda p: p if len(p) >= 60 else None)(raw_points(s, tok, "mq-1", "seq", base)))
        assert pts and [p["value"] for p in pts] == list(range(60)), pts
        if "citydesk_mqtt_" in before:
            assert wait_for(lambda: (metric_value(metrics(s), 'citydesk_mqtt_malformed_total{kind="telemetry"}')
                                     or 0) - m0 == 6), metrics(s)
        else:
            print("NOTE test_mqtt: /metrics has no citydesk_mqtt_* yet; malformed count not checked")

        # mq-1 may not publish as mq-2: the broker drops it (QoS 1 is still acknowledged)
        pub(s, "mq-1", sa, topic_dev="mq-2", message=json.dumps({"ts": base, "values": {"intruder": 1}}))
        pub(s, "mq-1", sa, topic_dev="mq-2", kind="event", message='{"type":"fire_alarm","level":"red"}')
        # a marker from mq-2 itself, after them: once it is stored, the others would have been too
        assert pub(s, "mq-2", sb, message=json.dumps({"ts": base, "values": {"marker": 1}})) == 0, broker_log(s)
        assert wait_for(lambda: raw_points(s, tok, "mq-2", "marker", base))
        assert raw_points(s, tok, "mq-2", "intruder", base) == []
        dev2 = s.request("GET", "/api/v1/devices/mq-2", token=tok).json()
        assert "intruder" not in dev2.get("metrics", []), dev2

        # a burst at QoS 1: every message is stored
        burst_base = base + 120000
        n = 3000
        lines = [json.dumps({"ts": burst_base + i, "values": {"burst": i}}) for i in range(n)]
        assert pub(s, "mq-1", sa, lines=lines) == 0
        pts = wait_for(lambda: (lambda p: p if len(p) >= n else None)(
            raw_points(s, tok, "mq-1", "burst", burst_base, 60000)), timeout=60)
        got = len(raw_points(s, tok, "mq-1", "burst", burst_base, 60000))
        assert pts and got == n, "stored %d of %d" % (got, n)
        assert sorted(p["value"] for p in pts) == list(range(n))

        # a fire alarm over MQTT becomes an alert (when the alerts API is there)
        assert pub(s, "mq-1", sa, kind="event", message='{"type":"fire_alarm","level":"red","detail":"3F"}') == 0
        r = s.request("GET", "/api/v1/alerts?device=mq-1", token=tok)
        if r.status == 404:
            print("NOTE test_mqtt: /api/v1/alerts not wired; fire alarm not checked")
        else:
            def alerts(dev):
                body = s.request("GET", "/api/v1/alerts?device=%s" % dev, token=tok).json()
                items = body.get("items", body.get("alerts", body)) if isinstance(body, dict) else body
                return items if isinstance(items, list) else []
            assert wait_for(lambda: alerts("mq-1")), s.request("GET", "/api/v1/alerts", token=tok)
            assert alerts("mq-2") == [], alerts("mq-2")  # the forged alarm above never arrived

        # status offline over MQTT
        assert pub(s, "mq-1", sa, kind="status", message='{"status":"offline"}') == 0
        assert wait_for(lambda: s.request("GET", "/api/v1/devices/mq-1", token=tok).json()["online"] is False)


def test_mqtt_kill9_leaves_no_broker():
    with Server(iot=True) as s:
        s.add_user("admin", "admin")
        tok = s.login("admin")
        if not wired(s):
            return
        secret = create(s, tok, "mq-9")
        assert wait_for(lambda: pub(s, "mq-9", secret, kind="status", message='{"status":"online"}') == 0)
        s.stop(sig=signal.SIGKILL)
        # the broker dies with its parent: the port is free again
        assert wait_for(lambda: not port_open(s.mqtt_port), timeout=10), "broker outlived citydesk"
        s.start()  # same MQTT port (the harness keeps it)
        assert wait_for(lambda: pub(s, "mq-9", secret, kind="status", message='{"status":"offline"}') == 0)
        tok = s.login("admin")
        assert wait_for(lambda: s.request("GET", "/api/v1/devices/mq-9", token=tok).json()["online"] is False)
