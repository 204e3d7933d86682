"""Black-box tests of the device registry and the time series: POST/GET /api/v1/devices (secret
once, located on the map, refusals, scope), CSV import (all or nothing, secrets as JSON or CSV),
the HTTP alternative to MQTT for devices (Basic auth with the device secret; 202; wrong secret,
another device's id, malformed payloads, rate limit), a device's series (raw and 1m), the
online state, `citydesk device add` while the server runs, and restarts. Until the routes are
wired (they answer 404) the tests print SKIP and pass."""
import base64
import json
import re
import time
import urllib.parse

from harness import Server, expect_error

DONGMEN = (22.5453, 114.1157)   # inside Luohu
SHEKOU = (22.48, 113.91)        # Nanshan: outside the district
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def basic(dev, secret):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (dev, secret)).encode()).decode()}


def wired(s, tok):
    if s.request("GET", "/api/v1/devices", token=tok).status == 404:
        print("SKIP test_devices: /api/v1/devices routes are not wired yet (404)")
        return False
    return True


def wait_for(fn, timeout=10.0):
    """Polls fn until it returns a true value (the hub and the series writer are asynchronous)."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.1)


def request_from(s, source, path, data, headers):
    """POST from another loopback address (source), or None when it cannot be bound here."""
    import http.client
    from harness import Response
    try:
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30, source_address=(source, 0))
        conn.request("POST", path, body=data, headers=headers)
    except OSError:
        print("SKIP request from %s: cannot bind it here" % source)
        return None
    r = conn.getresponse()
    resp = Response(r.status, r.getheaders(), r.read())
    conn.close()
    return resp


def create(s, tok, **body):
    r = s.request("POST", "/api/v1/devices", body, token=tok)
    assert r.status == 201, r
    return r.json()


def test_register_import_list_scope():
    with Server(iot=True) as s:
        s.add_user("admin", "admin")
        s.add_user("disp", "district_dispatcher")
        s.add_user("dongmen", "street_dispatcher", street="440303003")
        s.add_user("guiyuan", "street_dispatcher", street="440303001")
        s.add_user("res1", "citizen")
        t = {u: s.login(u) for u in ("admin", "disp", "dongmen", "guiyuan", "res1")}
        if not wired(s, t["admin"]):
            return

        d = create(s, t["admin"], id="smoke-001", type="smoke_detector", name="东门 3 号楼烟感",
                   owner="东门物业", lat=DONGMEN[0], lng=DONGMEN[1], tags=["fire", "building_3"],
                   address_hex="79030000ABCD")
        assert HEX64.match(d["secret"]), d
        assert d["street_code"] == "440303003" and len(d["grid_code"]) == 15, d
        assert d["community_code"].startswith("440303003") and d["street_name"], d
        assert d["address_hex"] == "79030000abcd" and d["tags"] == ["fire", "building_3"], d
        assert d["online"] is False and d["active"] is True and d["last_seen"] is None, d
        secret = d["secret"]

        # the secret is never shown again
        g = s.request("GET", "/api/v1/devices/smoke-001", token=t["disp"])
        assert g.status == 200 and "secret" not in g.json() and secret not in g.body.decode(), g
        assert g.json()["metrics"] == [], g

        # refusals
        expect_error(s.request("POST", "/api/v1/devices", {"id": "smoke-001", "type": "camera"},
                               token=t["admin"]), 409, "device_exists", "id")
        expect_error(s.request("POST", "/api/v1/devices", {"id": "x-1", "type": "uitd",
                                                           "address_hex": "79030000abcd"},
                               token=t["admin"]), 409, "address_taken", "address_hex")
        expect_error(s.request("POST", "/api/v1/devices", {"id": "x-2", "type": "toaster"},
                               token=t["admin"]), 422, None, "type")
        expect_error(s.request("POST", "/api/v1/devices", {"id": "bad id", "type": "camera"},
                               token=t["admin"]), 422, None, "id")
        expect_error(s.request("POST", "/api/v1/devices", {"id": "x-3", "type": "camera",
                                                           "lat": SHEKOU[0], "lng": SHEKOU[1]},
                               token=t["admin"]), 422, "outside_jurisdiction", "lat")
        expect_error(s.request("POST", "/api/v1/devices", {"id": "x-4", "type": "camera", "colour": 1},
                               token=t["admin"]), 422, "unknown_field", "colour")
        expect_error(s.request("POST", "/api/v1/devices", {"id": "x-5", "type": "camera"},
                               token=t["disp"]), 403)
        expect_error(s.request("GET", "/api/v1/devices", token=t["res1"]), 403)
        expect_error(s.request("GET", "/api/v1/devices"), 401)

        # import: one bad row refuses all
        bad_csv = ("id,type,name,lat,lng,tags\n"
                   "wm-1,water_meter,独居老人 1 栋,%f,%f,elderly_alone\n"
                   "wm-2,water_meter,2 栋,%f,%f,elderly_alone\n" % (DONGMEN + SHEKOU))
        r = s.request("POST", "/api/v1/devices/import", token=t["admin"], raw=bad_csv.encode(),
                      headers={"Content-Type": "text/csv"})
        err = expect_error(r, 422, "outside_jurisdiction")
        assert "row 3" in err["message"] and "wm-2" in err["message"], err
        expect_error(s.request("GET", "/api/v1/devices/wm-1", token=t["admin"]), 404)

        good_csv = ("id,type,name,lat,lng,tags\n"
                    "wm-1,water_meter,独居老人 1 栋,%f,%f,elderly_alone\n"
                    "wm-2,water_meter,\"2 栋, 东门\",,,elderly_alone\n" % DONGMEN)
        r = s.request("POST", "/api/v1/devices/import", token=t["admin"], raw=good_csv.encode(),
                      headers={"Content-Type": "text/csv"})
        assert r.status == 201, r
        got = r.json()
        assert got["created"] == 2 and [x["id"] for x in got["devices"]] == ["wm-1", "wm-2"], got
        assert all(HEX64.match(x["secret"]) for x in got["devices"]), got
        assert got["devices"][1]["name"] == "2 栋, 东门" and got["devices"][1]["lat"] is None, got
        r = s.request("POST", "/api/v1/devices/import?format=csv", token=t["admin"],
                      raw=b"id,type\nem-1,energy_meter\nem-2,energy_meter\n",
                      headers={"Content-Type": "text/csv"})
        assert r.status == 201 and r.header("Content-Type").startswith("text/csv"), r
        lines = r.body.decode().strip().splitlines()
        assert lines[0] == "id,secret" and len(lines) == 3 and lines[1].startswith("em-1,"), lines
        assert HEX64.match(lines[2].split(",")[1]), lines

        # lists: filters, paging, scope
        def ids(path, who="disp"):
            r = s.request("GET", path, token=t[who])
            assert r.status == 200, r
            return [x["id"] for x in r.json()["items"]], r.json()["total"]

        assert ids("/api/v1/devices") == (["em-1", "em-2", "smoke-001", "wm-1", "wm-2"], 5)
        assert ids("/api/v1/devices?type=water_meter") == (["wm-1", "wm-2"], 2)
        assert ids("/api/v1/devices?street=440303003") == (["smoke-001", "wm-1"], 2)
        assert ids("/api/v1/devices?q=" + urllib.parse.quote("独居")) == (["wm-1"], 1)
        assert ids("/api/v1/devices?q=elderly_alone") == (["wm-1", "wm-2"], 2)
        assert ids("/api/v1/devices?online=true") == ([], 0)
        assert ids("/api/v1/devices?page=2&page_size=2") == (["smoke-001", "wm-1"], 5)
        assert ids("/api/v1/devices", "dongmen") == (["smoke-001", "wm-1"], 2)
        assert ids("/api/v1/devices", "guiyuan") == ([], 0)
        expect_error(s.request("GET", "/api/v1/devices/smoke-001", token=t["guiyuan"]), 404)
        expect_error(s.request("GET", "/api/v1/devices?type=toaster", token=t["disp"]), 422, None, "type")
        expect_error(s.request("GET", "/api/v1/devices?online=maybe", token=t["disp"]), 422, None, "online")

        # audited, without secrets or hashes
        r = s.request("GET", "/api/v1/audit?page_size=50", token=t["admin"])
        assert r.status == 200, r
        adds = [e for e in r.json()["items"] if e["action"] == "device.add"]
        assert len(adds) == 5, adds
        text = r.body.decode()
        assert secret not in text and "argon2" not in text and "$7$101$" not in text


def test_device_posts_series_online_restart():
    with Server(iot=True) as s:
        s.add_user("admin", "admin")
        tok = s.login("admin")
        if not wired(s, tok):
            return
        d = create(s, tok, id="pump-1", type="hydrant_pressure", lat=DONGMEN[0], lng=DONGMEN[1])
        other = create(s, tok, id="pump-2", type="hydrant_pressure")
        secret = d["secret"]
        base = int(time.time() * 1000) - 30 * 60 * 1000  # half an hour ago
        base -= base % 60000

        def post(kind, body, dev="pump-1", sec=secret, raw=None):
            data = raw if raw is not None else json.dumps(body).encode()
            h = basic(dev, sec)
            h["Content-Type"] = "application/json"
            return s.request("POST", "/api/v1/devices/pump-1/" + kind, raw=data, headers=h)

        # six values in two minutes
        for i, v in enumerate([0.30, 0.34, 0.32, 0.28, 0.26, 0.27]):
            r = post("telemetry", {"ts": base + i * 20000, "values": {"pressure_mpa": v, "temperature_c": 20 + i}})
            assert r.status == 202 and r.json() == {"accepted": True}, r

        # refusals: no auth, wrong secret, another device's credentials, malformed payloads
        r = s.request("POST", "/api/v1/devices/pump-1/telemetry", raw=b'{"values":{"a":1}}',
                      headers={"Content-Type": "application/json"})
        expect_error(r, 401)
        assert r.header("WWW-Authenticate"), r
        expect_error(post("telemetry", {"values": {"a": 1}}, sec="0" * 64), 401)
        expect_error(post("telemetry", {"values": {"a": 1}}, dev="pump-2", sec=other["secret"]), 403)
        expect_error(post("telemetry", None, raw=b'{"values":'), 400)
        expect_error(post("telemetry", {"values": {"a": "high"}}), 422)
        expect_error(post("telemetry", {"values": {"a": 1}, "colour": "red"}), 422, None, "colour")
        expect_error(post("event", {"type": "fire_alarm", "level": "purple"}), 422)

        # series: raw and by minute
        q = "/api/v1/devices/pump-1/series?metric=pressure_mpa&from=%d&to=%d" % (base, base + 3600000)

        def raw_points():
            r = s.request("GET", q + "&step=raw", token=tok)
            assert r.status == 200, r
            return r.json()["points"] if len(r.json()["points"]) == 6 else None

        pts = wait_for(raw_points)
        assert pts, "telemetry did not reach the series"
        assert [p["value"] for p in pts] == [0.30, 0.34, 0.32, 0.28, 0.26, 0.27], pts
        assert pts[0]["ts_ms"] == base and pts[0]["ts"].endswith("+08:00"), pts
        r = s.request("GET", q + "&step=1m", token=tok)
        assert r.status == 200 and r.json()["step"] == "1m", r
        m = r.json()["points"]
        assert [p["count"] for p in m] == [3, 3], m
        assert abs(m[0]["avg"] - 0.32) < 1e-9 and m[0]["min"] == 0.30 and m[0]["max"] == 0.34, m
        r = s.request("GET", "/api/v1/devices/pump-1/series?metric=pressure_mpa", token=tok)
        assert r.status == 200 and r.json()["step"] in ("1m", "raw"), r  # last 24 h: auto
        expect_error(s.request("GET", "/api/v1/devices/pump-1/series", token=tok), 422, None, "metric")
        expect_error(s.request("GET", q + "&step=5m", token=tok), 422, None, "step")
        expect_error(s.request("GET", "/api/v1/devices/nope/series?metric=x", token=tok), 404)

        # a reading now (no ts: the arrival time) keeps the device online
        assert post("telemetry", {"values": {"battery_v": 3.6}}).status == 202
        dev = wait_for(lambda: (lambda d: d if len(d["metrics"]) == 3 else None)(
            s.request("GET", "/api/v1/devices/pump-1", token=tok).json()))
        assert dev and dev["online"] is True and dev["last_seen"], dev
        assert dev["metrics"] == ["battery_v", "pressure_mpa", "temperature_c"], dev

        # status offline, then online again
        assert post("status", {"status": "offline"}).status == 202
        assert wait_for(lambda: s.request("GET", "/api/v1/devices/pump-1", token=tok).json()["online"] is False)
        assert post("status", {"status": "online"}).status == 202
        assert wait_for(lambda: s.request("GET", "/api/v1/devices/pump-1", token=tok).json()["online"] is True)
        assert post("event", {"type": "tamper", "level": "", "detail": "lid opened"}).status == 202

        # a device registered with the CLI while the server runs is picked up
        p = s.cli("device", "add", "--id", "cam-9", "--type", "camera", "--lat", str(DONGMEN[0]),
                  "--lng", str(DONGMEN[1]))
        cam_secret = re.search(r"secret: ([0-9a-f]{64})", p.stdout).group(1)
        assert wait_for(lambda: s.request("GET", "/api/v1/devices/cam-9", token=tok).status == 200)
        r = s.request("POST", "/api/v1/devices/cam-9/status", raw=b'{"status":"online"}',
                      headers=dict(basic("cam-9", cam_secret), **{"Content-Type": "application/json"}))
        assert r.status == 202, r

        # too many wrong secrets for one device id: 429 with Retry-After
        codes = [post("telemetry", {"values": {"a": 1}}, dev="pump-2", sec="f" * 64) for _ in range(6)]
        assert [r.status for r in codes[:5]] == [401] * 5, codes
        expect_error(codes[5], 429)
        assert codes[5].header("Retry-After"), codes[5]
        # ... yet the device itself, with its right secret, is still taken: anyone's wrong
        # guesses must never hold back a device's fire alarm (it got 429 before the fix)
        dev2 = dict(basic("pump-2", other["secret"]), **{"Content-Type": "application/json"})
        r = s.request("POST", "/api/v1/devices/pump-2/event", raw=b'{"type":"fire_alarm","level":"red"}',
                      headers=dev2)
        assert r.status == 202, r
        # failures count per (client address, device id): another address is not held back by ours
        for _ in range(5):
            assert post("telemetry", {"values": {"a": 1}}, dev="pump-2", sec="f" * 64).status == 401
        expect_error(post("telemetry", {"values": {"a": 1}}, dev="pump-2", sec="f" * 64), 429)
        r = request_from(s, "127.0.0.2", "/api/v1/devices/pump-2/telemetry", b'{"values":{"a":1}}',
                         dict(basic("pump-2", "f" * 64), **{"Content-Type": "application/json"}))
        if r is not None:
            expect_error(r, 401)

        # after a restart the registry and the series are still there
        s.stop()
        s.start()
        tok = s.login("admin")
        r = s.request("GET", q + "&step=raw", token=tok)
        assert r.status == 200 and len(r.json()["points"]) == 6, r
        r = s.request("GET", "/api/v1/devices?type=camera", token=tok)
        assert [x["id"] for x in r.json()["items"]] == ["cam-9"], r


def mqtt_login(s, dev, secret):
    """Publishes one telemetry message as device `dev` with QoS 1; the exit code (0 = the broker
    took the login and the message)."""
    import subprocess
    p = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(s.mqtt_port), "-u", dev, "-P", secret,
                        "-i", "upd-" + dev, "-q", "1", "-t", "citydesk/v1/%s/telemetry" % dev,
                        "-m", '{"values":{"pressure_mpa":0.3}}'], capture_output=True, text=True, timeout=30)
    return p.returncode


def mqtt_up(s):
    import shutil
    import socket
    if not shutil.which("mosquitto_pub"):
        return False
    try:
        with socket.create_connection(("127.0.0.1", s.mqtt_port), timeout=1):
            return True
    except OSError:
        return False


def test_update_and_decommission():
    """PUT /api/v1/devices/{id} changes name, site, owner, point (located again), tags, address and
    active, absent fields kept, audited with before/after; refusals (role, unknown, id/type,
    unknown field, half a point, a taken address). DELETE decommissions: active false, offline,
    HTTP device posts 401, the broker refuses its login once the password file is rewritten,
    409 the second time, audited; reactivating does not bring the old secret back; a restart
    keeps it all."""
    with Server(iot=True) as s:
        s.add_user("admin", "admin")
        s.add_user("disp", "district_dispatcher")
        t = {u: s.login(u) for u in ("admin", "disp")}
        if not wired(s, t["admin"]):
            return
        if s.request("PUT", "/api/v1/devices/x", {}, token=t["admin"]).status in (404, 405) and \
                s.request("PUT", "/api/v1/devices/x", {}, token=t["admin"]).json()["error"]["message"] == \
                "no such resource":
            print("SKIP test_devices update: PUT/DELETE /api/v1/devices/{id} are not routed yet")
            return
        d = create(s, t["admin"], id="uitd-9", type="uitd", name="旧名", site="东门 3 号楼", owner="东门物业",
                   lat=DONGMEN[0], lng=DONGMEN[1], tags=["fire"], address_hex="790300000009")
        secret = d["secret"]
        create(s, t["admin"], id="uitd-10", type="uitd", address_hex="790300000010")
        path = "/api/v1/devices/uitd-9"

        expect_error(s.request("PUT", path, {"name": "x"}, token=t["disp"]), 403)
        expect_error(s.request("DELETE", path, token=t["disp"]), 403)
        expect_error(s.request("PUT", "/api/v1/devices/nope-1", {"name": "x"}, token=t["admin"]), 404)
        expect_error(s.request("DELETE", "/api/v1/devices/nope-1", token=t["admin"]), 404)
        expect_error(s.request("PUT", path, {"type": "camera"}, token=t["admin"]), 422, None, "type")
        expect_error(s.request("PUT", path, {"id": "uitd-99"}, token=t["admin"]), 422, None, "id")
        expect_error(s.request("PUT", path, {"colour": "red"}, token=t["admin"]), 422, "unknown_field", "colour")
        expect_error(s.request("PUT", path, {"lat": DONGMEN[0]}, token=t["admin"]), 422, None, "lng")
        expect_error(s.request("PUT", path, {"lat": SHEKOU[0], "lng": SHEKOU[1]}, token=t["admin"]), 422)
        expect_error(s.request("PUT", path, {"address_hex": "12345"}, token=t["admin"]), 422, None, "address_hex")
        expect_error(s.request("PUT", path, {"address_hex": "790300000010"}, token=t["admin"]),
                     409, "address_taken", "address_hex")

        # a change of some fields keeps the others; the type and id may be repeated unchanged
        r = s.request("PUT", path, {"id": "uitd-9", "type": "uitd", "name": "东门 3 号楼 用户信息传输装置",
                                    "tags": ["fire", "hospital"], "address_hex": "79030000000A"},
                      token=t["admin"])
        assert r.status == 200, r
        g = r.json()
        assert g["name"] == "东门 3 号楼 用户信息传输装置" and g["tags"] == ["fire", "hospital"], g
        assert g["address_hex"] == "79030000000a" and g["site"] == "东门 3 号楼" and g["owner"] == "东门物业", g
        assert g["street_code"] == "440303003" and g["active"] is True and "secret" not in g, g
        # the point removed (codes go), then put back (located again)
        r = s.request("PUT", path, {"lat": None, "lng": None}, token=t["admin"])
        assert r.status == 200 and r.json()["lat"] is None and r.json()["street_code"] is None, r
        r = s.request("PUT", path, {"lat": DONGMEN[0], "lng": DONGMEN[1], "site": "东门 5 号楼"}, token=t["admin"])
        assert r.status == 200 and r.json()["street_code"] == "440303003" and r.json()["grid_code"], r
        g = s.request("GET", path, token=t["disp"]).json()
        assert g["site"] == "东门 5 号楼" and g["address_hex"] == "79030000000a", g
        # the old address is free, the new one taken
        create(s, t["admin"], id="uitd-11", type="uitd", address_hex="790300000009")
        expect_error(s.request("POST", "/api/v1/devices", {"id": "uitd-12", "type": "uitd",
                                                           "address_hex": "79030000000a"},
                               token=t["admin"]), 409, "address_taken", "address_hex")

        # working credentials before
        hdr = basic("uitd-9", secret)
        hdr["Content-Type"] = "application/json"
        post = lambda: s.request("POST", path + "/telemetry", raw=b'{"values":{"pressure_mpa":0.3}}', headers=hdr)
        assert post().status == 202
        assert wait_for(lambda: s.request("GET", path, token=t["admin"]).json()["online"]), "not online"
        mqtt = mqtt_up(s)
        if mqtt:
            assert wait_for(lambda: mqtt_login(s, "uitd-9", secret) == 0, 15), "the broker refused a good login"
        else:
            print("SKIP test_devices decommission over MQTT: no broker on the MQTT port")

        # decommission
        r = s.request("DELETE", path, token=t["admin"])
        assert r.status == 200, r
        g = r.json()
        assert g["active"] is False and g["online"] is False and g["address_hex"] == "79030000000a", g
        expect_error(s.request("DELETE", path, token=t["admin"]), 409, "decommissioned")
        expect_error(post(), 401)
        if mqtt:
            assert wait_for(lambda: mqtt_login(s, "uitd-9", secret) != 0, 15), \
                "the broker still takes a decommissioned device's login"
            assert mqtt_login(s, "uitd-10", "0" * 64) != 0
        listed = s.request("GET", "/api/v1/devices?q=uitd-9", token=t["admin"]).json()["items"]
        assert [x["active"] for x in listed if x["id"] == "uitd-9"] == [False], listed

        audit = s.request("GET", "/api/v1/audit?page_size=200", token=t["admin"]).json()["items"]
        acts = [(a["action"], a.get("target")) for a in audit]
        assert ("device.decommission", "devices/uitd-9") in acts, acts
        assert len([a for a in acts if a == ("device.update", "devices/uitd-9")]) == 3, acts
        assert secret not in json.dumps(audit), "a secret in the audit trail"

        # reactivated: active, but the old secret stays withdrawn
        r = s.request("PUT", path, {"active": True}, token=t["admin"])
        assert r.status == 200 and r.json()["active"] is True, r
        expect_error(post(), 401)

        # a restart reads it all back
        s.request("DELETE", path, token=t["admin"])
        s.stop()
        s.start()
        tok = s.login("admin")
        g = s.request("GET", path, token=tok).json()
        assert g["active"] is False and g["site"] == "东门 5 号楼" and g["tags"] == ["fire", "hospital"], g
        expect_error(post(), 401)
