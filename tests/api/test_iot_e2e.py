"""End to end through the real server with IoT on: a fire-alarm transmitter (UITD) registered with
its GB/T 26875.3 address speaks to the listener over TCP; a component fire-alarm frame built here
(checksum computed) is ACKed byte for byte, becomes a red alert on GET /api/v1/alerts and on the
SSE stream, and opens one case (channel iot) routed to the fire brigade D-XF
(responsibilities.csv: H130809,*,D-XF); a heartbeat (empty send-data frame) brings the device
back online after it reported itself offline. Then 200 fire-alarm frames from 20 connections at
once: every frame is ACKed, none is lost (each device's fire_alarm alert counts exactly its
frames: events with a level are de-duplicated per device and event type, so a repeat bumps the
count of the open alert and opens no second case), and the server keeps serving. Until the
listener or the device routes are wired, the tests print SKIP and pass."""
import base64
import json
import socket
import struct
import threading
import time
from datetime import datetime, timedelta, timezone

from harness import Server
from test_stream import Sse

DONGMEN = (22.5453, 114.1157)  # 东门街道 440303003, inside Luohu
CENTRE = bytes.fromhex("385b01000000")
BEIJING = timezone(timedelta(hours=8))
FIRE_UNIT = "D-XF"


def gb_time():
    """The protocol's 6 time bytes: second, minute, hour, day, month, year-2000 (Beijing time)."""
    dt = datetime.now(timezone.utc).astimezone(BEIJING)
    return bytes([dt.second, dt.minute, dt.hour, dt.day, dt.month, dt.year - 2000])


def frame(serial, src, data=b"", cmd=2):
    """A GB/T 26875.3 frame: @@, serial, version 1.1, time, source, destination, length, command,
    data unit, checksum (sum of bytes 2..26 and the data unit, mod 256), ##."""
    body = struct.pack("<H", serial) + b"\x01\x01" + gb_time() + src + CENTRE + \
        struct.pack("<H", len(data)) + bytes([cmd]) + data
    return b"@@" + body + bytes([sum(body) & 0xFF]) + b"##"


def fire_component(zone, position, desc="3 层烟感火警"):
    """Data unit type 2 with one component of the fire alarm system (system type 1, address 1),
    a photoelectric smoke detector (42) in fire: status bits 0 (normal operation) and 1 (fire);
    31-byte GB 18030 description; the object's time."""
    raw = desc.encode("gb18030")[:31].ljust(31, b"\0")
    obj = bytes([1, 1, 42]) + struct.pack("<HHH", zone, position, 0x0003) + raw + gb_time()
    return bytes([2, 1]) + obj


def check_ack(reply, serial, src):
    """The centre's ACK: same serial and version, the centre's time, addresses swapped, no data,
    command 3, checksum, end; 30 bytes."""
    assert len(reply) == 30, reply.hex()
    assert reply[:2] == b"@@" and reply[-2:] == b"##", reply.hex()
    assert reply[2:4] == struct.pack("<H", serial), reply.hex()
    assert reply[4:6] == b"\x01\x01", reply.hex()
    assert reply[12:18] == CENTRE and reply[18:24] == src, reply.hex()
    assert reply[24:26] == b"\x00\x00" and reply[26] == 3, reply.hex()
    assert reply[27] == sum(reply[2:27]) & 0xFF, reply.hex()
    t = reply[6:12]
    sent = datetime(2000 + t[5], t[4], t[3], t[2], t[1], t[0], tzinfo=BEIJING)
    assert abs((sent - datetime.now(timezone.utc)).total_seconds()) < 120, sent


def read_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise AssertionError("connection closed after %d of %d bytes" % (len(out), n))
        out += chunk
    return out


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def wait_for(fn, timeout=15.0):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.1)


def ready(s):
    """Users and tokens, or None (after SKIP) while the listener or the device routes are off."""
    if not s.gb_port:
        print("SKIP test_iot_e2e: the harness has no .gb_port")
        return None
    try:
        socket.create_connection(("127.0.0.1", s.gb_port), timeout=2).close()
    except OSError:
        print("SKIP test_iot_e2e: nothing listens on the GB/T 26875.3 port")
        return None
    s.add_user("admin", "admin")
    s.add_user("disp", "district_dispatcher")
    tok = {u: s.login(u) for u in ("admin", "disp")}
    r = s.request("GET", "/api/v1/alerts", token=tok["admin"])
    if r.status == 404:
        print("SKIP test_iot_e2e: /api/v1/alerts is not routed yet")
        return None
    return tok


def register(s, tok, dev_id, address_hex):
    r = s.request("POST", "/api/v1/devices", {
        "id": dev_id, "type": "uitd", "name": dev_id + " 用户信息传输装置", "site": "东门步行街 3 号楼",
        "owner": "东门物业", "lat": DONGMEN[0], "lng": DONGMEN[1], "address_hex": address_hex,
        "tags": ["fire"]}, token=tok)
    assert r.status == 201, r
    return r.json()


def device_alerts(s, tok, dev_id):
    r = s.request("GET", "/api/v1/alerts?page_size=100&device=" + dev_id, token=tok)
    assert r.status == 200, r
    return r.json()["items"]


def test_fire_alarm_frame_to_alert_case_and_stream():
    with Server(iot=True) as s:
        tok = ready(s)
        if not tok:
            return
        addr = bytes.fromhex("790300000101")
        dev = register(s, tok["admin"], "uitd-e2e-1", addr.hex())
        assert dev["address_hex"] == addr.hex() and dev["online"] is False, dev
        sse = Sse(s.port, token=tok["disp"])
        assert sse.status == 200, sse.status

        sock = connect(s.gb_port)
        sock.sendall(frame(1, addr, fire_component(3, 12)))
        check_ack(read_exact(sock, 30), 1, addr)

        # a red alert for the device, at once, with its case
        def red_with_case():
            items = [a for a in device_alerts(s, tok["disp"], "uitd-e2e-1") if a["level"] == "red"]
            return items if items and items[0]["case_ref"] else None
        items = wait_for(red_with_case)
        assert items and len(items) == 1, device_alerts(s, tok["disp"], "uitd-e2e-1")
        al = items[0]
        assert al["source"] == "event" and al["type"] == "fire_alarm" and al["status"] == "open", al
        assert al["street_code"] == "440303003" and al["category"] == "H130809", al
        assert al["unit_code"] == FIRE_UNIT and al["count"] == 1, al
        detail = json.loads(al["detail"].split("; 位置")[0])
        assert detail["source"] == "gb26875" and detail["zone"] == 3 and detail["position"] == 12, detail
        assert "3 层烟感火警" in al["detail"], al

        # on the stream
        def raised(c):
            return [json.loads(f["data"]) for f in c.events()
                    if f["event"] == "alert.raised" and f["data"] and json.loads(f["data"])["id"] == al["id"]]
        assert sse.wait(raised, 15), [f.get("event") for f in sse.frames]
        assert raised(sse)[0]["level"] == "red" and raised(sse)[0]["device"] == "uitd-e2e-1", raised(sse)
        sse.close()

        # its case: channel iot, the alert's id as external id, routed to the fire brigade
        r = s.request("GET", "/api/v1/cases/" + al["case_ref"], token=tok["disp"])
        assert r.status == 200, r
        c = r.json()
        assert c["channel"] == "iot" and c["external_id"] == str(al["id"]), c
        assert c["unit"] and c["unit"]["code"] == FIRE_UNIT, c["unit"]
        assert c["category"] and c["category"]["code"] == "H130809", c["category"]
        r = s.request("GET", "/api/v1/cases?channel=iot&page_size=50", token=tok["disp"])
        assert r.status == 200 and r.json()["total"] == 1, r

        # the heartbeat: the device says it is offline (HTTP), then an empty send-data frame
        # over the transmitter's connection brings it online again with a newer last_seen
        def device():
            return s.request("GET", "/api/v1/devices/uitd-e2e-1", token=tok["admin"]).json()
        assert wait_for(lambda: device()["online"]), device()
        auth = base64.b64encode(("uitd-e2e-1:" + dev["secret"]).encode()).decode()
        r = s.request("POST", "/api/v1/devices/uitd-e2e-1/status", {"status": "offline"},
                      headers={"Authorization": "Basic " + auth})
        assert r.status == 202, r
        assert wait_for(lambda: device()["online"] is False), device()
        seen = device()["last_seen"]
        time.sleep(1.1)
        sock.sendall(frame(2, addr))  # heartbeat: command 2, no data unit
        check_ack(read_exact(sock, 30), 2, addr)
        d = wait_for(lambda: (lambda x: x if x["online"] and x["last_seen"] != seen else None)(device()))
        assert d and d["online"] is True and d["last_seen"] > seen, (seen, device())
        # still one alert and one case: the heartbeat raised nothing
        assert len(device_alerts(s, tok["disp"], "uitd-e2e-1")) == 1
        sock.close()


N_CONN = 20
PER_CONN = 10


def test_200_fire_alarms_from_20_connections_none_lost():
    with Server(iot=True) as s:
        tok = ready(s)
        if not tok:
            return
        addrs = [bytes.fromhex("7903000002%02x" % i) for i in range(N_CONN)]
        for i, a in enumerate(addrs):
            register(s, tok["admin"], "uitd-burst-%02d" % i, a.hex())

        start = threading.Barrier(N_CONN)
        errors = []
        acked = [0] * N_CONN

        def transmitter(i):
            try:
                sock = connect(s.gb_port)
                burst = b"".join(frame(k + 1, addrs[i], fire_component(i + 1, k + 1, "火警 %d-%d" % (i, k)))
                                 for k in range(PER_CONN))
                start.wait(timeout=30)
                sock.sendall(burst)  # all ten at once: several frames per read on the other side
                for k in range(PER_CONN):
                    check_ack(read_exact(sock, 30), k + 1, addrs[i])
                    acked[i] += 1
                sock.close()
            except Exception as e:  # reported below, with the connection's number
                errors.append("connection %d: %r" % (i, e))

        threads = [threading.Thread(target=transmitter, args=(i,)) for i in range(N_CONN)]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert acked == [PER_CONN] * N_CONN, acked
        print("  %d frames from %d connections ACKed in %.2f s" % (N_CONN * PER_CONN, N_CONN, time.time() - t0))

        # none lost: every frame is an alert raise or repeat of its device's fire_alarm alert
        def counts():
            r = s.request("GET", "/api/v1/alerts?page_size=100&status=active", token=tok["admin"])
            assert r.status == 200, r
            by_dev = {}
            for a in r.json()["items"]:
                if a["type"] == "fire_alarm" and a["device"]:
                    by_dev[a["device"]] = by_dev.get(a["device"], 0) + a["count"]
            return by_dev
        want = {"uitd-burst-%02d" % i: PER_CONN for i in range(N_CONN)}
        got = wait_for(lambda: counts() if counts() == want else None, 30)
        assert got == want, counts()
        for i in range(N_CONN):
            items = device_alerts(s, tok["admin"], "uitd-burst-%02d" % i)
            assert len(items) == 1 and items[0]["level"] == "red" and items[0]["count"] == PER_CONN, items

        # one case per device (repeats open none), each routed to the fire brigade
        def cases():
            r = s.request("GET", "/api/v1/cases?channel=iot&page_size=100", token=tok["admin"])
            assert r.status == 200, r
            return r.json()
        c = wait_for(lambda: cases() if cases()["total"] == N_CONN else None, 30)
        assert c and c["total"] == N_CONN, cases()["total"]
        assert all(x["unit"] and x["unit"]["code"] == FIRE_UNIT for x in c["items"]), c["items"][:2]

        # and the server keeps serving: health, the API, the listener
        assert s.request("GET", "/healthz").status == 200
        r = s.request("POST", "/api/v1/cases", {"title": "路灯不亮", "description": "东门路口路灯不亮",
                                                 "lat": DONGMEN[0], "lng": DONGMEN[1]}, token=tok["disp"])
        assert r.status in (200, 201, 202), r
        sock = connect(s.gb_port)
        sock.sendall(frame(99, addrs[0]))
        check_ack(read_exact(sock, 30), 99, addrs[0])
        sock.close()
        m = s.request("GET", "/metrics").body.decode()
        line = [x for x in m.splitlines() if x.startswith('citydesk_alerts_messages_total{kind="event"}')]
        if line:
            assert float(line[0].split()[-1]) >= N_CONN * PER_CONN, line
