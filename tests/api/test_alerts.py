"""Black-box tests of rules and alerts (监测预警): a threshold rule on telemetry posted over HTTP
raises one alert, seen on GET /api/v1/alerts and on the SSE stream, which opened exactly one case
(channel iot, external_id = the alert id) routed to the fire-safety unit; the rule clears it when
the value is back and the clearing is noted on the case; a device's fire alarm is an alert at
once, acknowledged and cleared by a dispatcher; rules CRUD with roles and refusals; alerts in
the caller's scope; POST /api/v1/ingest/{system} refuses a bad key (401) and turns a good one's
event into an alert (de-duplicated by its id, cleared by the sender). Until the routes are
wired (404) the tests print SKIP and pass."""
import json
import time

from harness import Server, expect_error
from test_stream import Sse

DONGMEN = (22.5453, 114.1157)   # inside Luohu, 东门街道 440303003
FIRE_UNIT = "D-XF"              # 罗湖区消防救援大队 (responsibilities.csv: H130809,*,D-XF)

HOT_RULE = {"name": "烟感温度过高", "kind": "threshold", "device_type": "smoke_detector",
            "metric": "temperature_c", "op": ">", "value": 60, "level": "red", "suppress_s": 0}


def wired(s, tok):
    for path in ("/api/v1/alerts", "/api/v1/rules"):
        if s.request("GET", path, token=tok).status == 404:
            print("SKIP test_alerts: %s is not wired yet (404)" % path)
            return False
    return True


def wait_for(fn, timeout=30.0):
    """Polls fn until it returns a true value or timeout seconds pass. 30 s, not 10: on a loaded
    machine under ASan the alert was raised but its case link came later than 10 s."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.05)


def people(s):
    s.add_user("admin", "admin")
    s.add_user("disp", "district_dispatcher")
    s.add_user("dongmen", "street_dispatcher", street="440303003")
    s.add_user("guiyuan", "street_dispatcher", street="440303001")
    s.add_user("res1", "citizen")
    return {u: s.login(u) for u in ("admin", "disp", "dongmen", "guiyuan", "res1")}


def device(s, tok, dev_id, dtype, tags=None):
    r = s.request("POST", "/api/v1/devices", {"id": dev_id, "type": dtype, "name": dev_id + " 东门 3 号楼",
                                              "lat": DONGMEN[0], "lng": DONGMEN[1], "tags": tags or []},
                  token=tok)
    assert r.status == 201, r
    return r.json()["secret"]


def post_device(s, dev_id, secret, kind, body):
    import base64
    auth = base64.b64encode(("%s:%s" % (dev_id, secret)).encode()).decode()
    r = s.request("POST", "/api/v1/devices/%s/%s" % (dev_id, kind), body,
                  headers={"Authorization": "Basic " + auth})
    assert r.status == 202, r
    return r


def alerts(s, tok, query=""):
    r = s.request("GET", "/api/v1/alerts" + query, token=tok)
    assert r.status == 200, r
    return r.json()


def iot_cases(s, tok):
    r = s.request("GET", "/api/v1/cases?channel=iot&page_size=100", token=tok)
    assert r.status == 200, r
    return r.json()["items"]


def case_of(s, tok, ref):
    r = s.request("GET", "/api/v1/cases/" + ref, token=tok)
    assert r.status == 200, r
    return r.json()


def sse_alerts(sse, alert_id):
    out = []
    for f in sse.events():
        if f["event"].startswith("alert.") and f["data"]:
            d = json.loads(f["data"])
            if d.get("id") == alert_id:
                out.append((f["event"], d))
    return out


def test_rules_crud_and_refusals():
    with Server(iot=True) as s:
        t = people(s)
        if not wired(s, t["admin"]):
            return
        r = s.request("POST", "/api/v1/rules", HOT_RULE, token=t["admin"])
        assert r.status == 201, r
        rule = r.json()
        assert rule["id"] > 0 and rule["kind"] == "threshold" and rule["value"] == 60, rule
        assert rule["enabled"] is True and rule["auto_clear"] is True and rule["open_case"] is True, rule

        water = {"name": "独居老人 12 小时未用水", "kind": "window", "tag": "elderly_alone", "metric": "water_l",
                 "mode": "idle", "op": ">", "value": 0, "for_s": 43200, "from": "06:00", "to": "22:00",
                 "level": "orange"}
        r = s.request("POST", "/api/v1/rules", water, token=t["admin"])
        assert r.status == 201 and r.json()["from"] == "06:00" and r.json()["to"] == "22:00", r
        wid = r.json()["id"]

        expect_error(s.request("POST", "/api/v1/rules", HOT_RULE, token=t["disp"]), 403)
        expect_error(s.request("GET", "/api/v1/rules", token=t["res1"]), 403)
        expect_error(s.request("GET", "/api/v1/rules"), 401)
        expect_error(s.request("POST", "/api/v1/rules", dict(HOT_RULE, op="=>"), token=t["admin"]), 422, None, "op")
        expect_error(s.request("POST", "/api/v1/rules", dict(HOT_RULE, colour="red"), token=t["admin"]),
                     422, "unknown_field", "colour")
        no_metric = dict(HOT_RULE)
        del no_metric["metric"]
        expect_error(s.request("POST", "/api/v1/rules", no_metric, token=t["admin"]), 422, None, "metric")
        expect_error(s.request("POST", "/api/v1/rules", {"name": "x", "kind": "baseline", "metric": "e"},
                               token=t["admin"]), 422, None, "percent")

        listed = s.request("GET", "/api/v1/rules", token=t["disp"]).json()["items"]
        ours = [x["id"] for x in listed if x["id"] in (rule["id"], wid)]  # beside the default set
        assert ours == [rule["id"], wid], listed
        r = s.request("PUT", "/api/v1/rules/%d" % wid, dict(water, level="red", for_s=36000), token=t["admin"])
        assert r.status == 200 and r.json()["level"] == "red" and r.json()["for_s"] == 36000, r
        expect_error(s.request("PUT", "/api/v1/rules/99999", water, token=t["admin"]), 404)
        assert s.request("DELETE", "/api/v1/rules/%d" % wid, token=t["admin"]).status == 204
        expect_error(s.request("GET", "/api/v1/rules/%d" % wid, token=t["admin"]), 404)

        audit = s.request("GET", "/api/v1/audit?page_size=100", token=t["admin"]).json()["items"]
        actions = [a["action"] for a in audit]
        for want in ("rule.add", "rule.update", "rule.delete"):
            assert want in actions, actions


def test_threshold_alert_opens_one_case_and_clearing_is_noted():
    with Server(iot=True) as s:
        t = people(s)
        if not wired(s, t["admin"]):
            return
        secret = device(s, t["admin"], "smoke-001", "smoke_detector", ["fire"])
        r = s.request("POST", "/api/v1/rules", HOT_RULE, token=t["admin"])
        assert r.status == 201, r
        rule_id = r.json()["id"]

        sse = Sse(s.port, token=t["disp"])
        assert sse.status == 200, sse.status
        post_device(s, "smoke-001", secret, "telemetry", {"values": {"temperature_c": 72.5, "humidity": 40}})

        def raised_with_case():
            items = alerts(s, t["disp"], "?status=open")["items"]
            return items if items and items[0]["case_ref"] else None
        items = wait_for(raised_with_case)
        assert items and len(items) == 1, items
        al = items[0]
        assert al["rule_id"] == rule_id and al["device"] == "smoke-001" and al["level"] == "red", al
        assert al["source"] == "rule" and al["type"] == "threshold" and al["value"] == 72.5, al
        assert al["street_code"] == "440303003" and al["category"] == "H130809", al
        assert al["unit_code"] == FIRE_UNIT, al

        # on the stream, with its case
        assert sse.wait(lambda c: sse_alerts(c, al["id"])), sse.frames
        ev, data = sse_alerts(sse, al["id"])[0]
        assert ev == "alert.raised" and data["case_ref"] == al["case_ref"] and data["level"] == "red", data

        # exactly one case, channel iot, external id = the alert id, routed to the fire unit
        cases = iot_cases(s, t["disp"])
        assert len(cases) == 1, cases
        c = case_of(s, t["disp"], al["case_ref"])
        assert c["channel"] == "iot" and c["external_id"] == str(al["id"]), c
        assert c["unit"] and c["unit"]["code"] == FIRE_UNIT, c["unit"]
        assert c["location"] and abs(c["location"]["lat"] - DONGMEN[0]) < 1e-6, c["location"]

        # still hot: the same alert, no second case
        post_device(s, "smoke-001", secret, "telemetry", {"values": {"temperature_c": 80}})
        time.sleep(0.5)
        got = alerts(s, t["disp"])
        assert got["total"] == 1 and got["items"][0]["count"] == 1, got
        assert len(iot_cases(s, t["disp"])) == 1

        # back to normal: the rule clears it, the case's history says so
        post_device(s, "smoke-001", secret, "telemetry", {"values": {"temperature_c": 25}})
        cleared = wait_for(lambda: [a for a in alerts(s, t["disp"], "?status=cleared")["items"]
                                    if a["id"] == al["id"]])
        assert cleared and cleared[0]["cleared_by"] == "system", cleared
        hist = wait_for(lambda: [e for e in case_of(s, t["disp"], al["case_ref"])["history"]
                                 if e["action"] == "alert_cleared"])
        assert hist and hist[0]["data"]["alert_id"] == al["id"], hist
        assert sse.wait(lambda c: any(e == "alert.cleared" for e, _ in sse_alerts(c, al["id"]))), sse.frames
        assert alerts(s, t["disp"], "?status=open")["total"] == 0

        # scope: Dongmen's dispatcher sees it, Guiyuan's does not, residents may not look
        assert alerts(s, t["dongmen"])["total"] == 1
        assert alerts(s, t["guiyuan"])["total"] == 0
        expect_error(s.request("GET", "/api/v1/alerts/%d" % al["id"], token=t["guiyuan"]), 404)
        expect_error(s.request("GET", "/api/v1/alerts", token=t["res1"]), 403)
        expect_error(s.request("GET", "/api/v1/alerts?level=purple", token=t["disp"]), 422, None, "level")
        sse.close()


def test_fire_alarm_event_acknowledge_and_clear():
    with Server(iot=True) as s:
        t = people(s)
        if not wired(s, t["admin"]):
            return
        secret = device(s, t["admin"], "uitd-7", "uitd", ["fire"])
        post_device(s, "uitd-7", secret, "event", {"type": "fire_alarm", "level": "red",
                                                   "detail": "3 号楼 2 层 感烟探测器火警"})
        items = wait_for(lambda: [a for a in alerts(s, t["disp"])["items"] if a["case_ref"]])
        assert items and items[0]["source"] == "event" and items[0]["type"] == "fire_alarm", items
        al = items[0]
        post_device(s, "uitd-7", secret, "event", {"type": "fire_alarm", "level": "red"})
        assert wait_for(lambda: alerts(s, t["disp"])["items"][0]["count"] == 2)
        assert len(iot_cases(s, t["disp"])) == 1

        path = "/api/v1/alerts/%d/actions" % al["id"]
        expect_error(s.request("POST", path, {"action": "acknowledge"}, token=t["res1"]), 403)
        expect_error(s.request("POST", path, {"action": "shrug"}, token=t["disp"]), 422, None, "action")
        r = s.request("POST", path, {"action": "acknowledge", "comment": "已通知物业"}, token=t["dongmen"])
        assert r.status == 200 and r.json()["status"] == "acknowledged", r
        assert r.json()["acknowledged_by"] == "dongmen", r
        # the acknowledgement is on the case by the time the API answers
        acked = [e for e in case_of(s, t["disp"], al["case_ref"])["history"] if e["action"] == "alert_acknowledged"]
        assert len(acked) == 1 and acked[0]["actor"] == "dongmen" and "已通知物业" in acked[0]["comment"], acked
        assert acked[0]["data"]["alert_id"] == al["id"], acked
        expect_error(s.request("POST", path, {"action": "acknowledge"}, token=t["disp"]), 409)
        expect_error(s.request("POST", path, {"action": "clear"}, token=t["guiyuan"]), 404)
        r = s.request("POST", path, {"action": "clear", "comment": "误报，已复位"}, token=t["disp"])
        assert r.status == 200 and r.json()["status"] == "cleared" and r.json()["cleared_by"] == "disp", r
        expect_error(s.request("POST", path, {"action": "clear"}, token=t["disp"]), 409)
        hist = wait_for(lambda: [e for e in case_of(s, t["disp"], al["case_ref"])["history"]
                                 if e["action"] == "alert_cleared"])
        assert hist and hist[0]["actor"] == "disp" and "误报" in hist[0]["comment"], hist

        audit = [a["action"] for a in s.request("GET", "/api/v1/audit?page_size=200",
                                                token=t["admin"]).json()["items"]]
        for want in ("alert.raise", "alert.case", "alert.acknowledge", "alert.clear"):
            assert want in audit, audit


def test_ingest_key_and_events():
    with Server(iot=True) as s:
        t = people(s)
        if not wired(s, t["admin"]):
            return
        if s.request("POST", "/api/v1/ingest/fire119", {"type": "x"}).status == 404:
            print("SKIP test_alerts ingest: /api/v1/ingest/{system} is not wired yet (404)")
            return
        key = s.cli("ingest", "add", "--system", "fire119").stdout.strip()
        assert key.startswith("cdi_") and len(key) == 68, key
        other = s.cli("ingest", "add", "--system", "gas").stdout.strip()
        event = {"id": "F-2026-001", "type": "fire_alarm", "level": "red", "title": "119 接警: 东门 3 号楼火警",
                 "detail": {"caller": "物业", "floor": 3}, "lat": DONGMEN[0], "lng": DONGMEN[1],
                 "ts": "2026-11-27T10:00:00+08:00"}
        path = "/api/v1/ingest/fire119"
        expect_error(s.request("POST", path, event), 401)
        expect_error(s.request("POST", path, event, headers={"X-Api-Key": "cdi_" + "0" * 64}), 401)
        expect_error(s.request("POST", path, event, headers={"X-Api-Key": other}), 401)
        expect_error(s.request("POST", "/api/v1/ingest/nobody", event, headers={"X-Api-Key": key}), 401)
        assert alerts(s, t["admin"])["total"] == 0

        hdr = {"X-Api-Key": key}
        expect_error(s.request("POST", path, {"events": [event, dict(event, level="purple")]}, headers=hdr),
                     422, None, "events[1].level")
        expect_error(s.request("POST", path, {"events": [dict(event, device="nope-1")]}, headers=hdr),
                     422, None, "events[0].device")
        time.sleep(0.3)
        assert alerts(s, t["admin"])["total"] == 0  # all or nothing

        r = s.request("POST", path, {"events": [event]}, headers=hdr)
        assert r.status == 202 and r.json()["accepted"] == 1, r
        items = wait_for(lambda: [a for a in alerts(s, t["disp"])["items"] if a["case_ref"]])
        assert items and items[0]["source"] == "ingest" and items[0]["system"] == "fire119", items
        al = items[0]
        assert al["level"] == "red" and al["street_code"] == "440303003" and al["unit_code"] == FIRE_UNIT, al
        c = case_of(s, t["disp"], al["case_ref"])
        assert c["channel"] == "iot" and c["external_id"] == str(al["id"]), c

        # sent again: the same alert (count 2), still one case; then the sender clears it
        assert s.request("POST", path, event, headers=hdr).status == 202
        assert wait_for(lambda: alerts(s, t["disp"])["items"][0]["count"] == 2)
        assert len(iot_cases(s, t["disp"])) == 1
        assert s.request("POST", path, dict(event, status="cleared"), headers=hdr).status == 202
        assert wait_for(lambda: alerts(s, t["disp"])["items"][0]["status"] == "cleared")
        hist = wait_for(lambda: [e for e in case_of(s, t["disp"], al["case_ref"])["history"]
                                 if e["action"] == "alert_cleared"])
        assert hist, case_of(s, t["disp"], al["case_ref"])["history"]


DEFAULT_NAMES = ("独居老人 12 小时未用水", "独居老人全天未用水", "垃圾分类投放点参与率低", "医院能耗高于同期基线 30%",
                 "消火栓水压低于 0.1 MPa", "电气火灾: 剩余电流超过 300 mA", "电气火灾: 剩余电流超过 500 mA",
                 "电气火灾: 线缆温度超过 70 ℃", "电气火灾: 线缆温度超过 90 ℃", "设备离线 30 分钟")


def test_default_rules_and_cli_import():
    """data/luohu/rules.json is loaded into the empty rules table at the first start, once: after
    an admin deletes a rule a restart does not bring it back; `citydesk rules import` adds a file
    while the server runs (in force within a minute: checked through the store here) and is
    idempotent."""
    with Server(iot=True) as s:
        t = people(s)
        if not wired(s, t["admin"]):
            return
        listed = s.request("GET", "/api/v1/rules", token=t["admin"]).json()["items"]
        if not listed:
            print("SKIP test_alerts default rules: serve does not call alerts_load_default_rules yet")
        else:
            names = [x["name"] for x in listed]
            assert sorted(names) == sorted(DEFAULT_NAMES), names
            hydrant = [x for x in listed if x.get("metric") == "pressure_mpa.*"]
            assert hydrant and hydrant[0]["level"] == "orange" and hydrant[0]["value"] == 0.1, hydrant
            offline = [x for x in listed if x["kind"] == "absence"][0]
            assert offline["window_s"] == 1800 and offline["level"] == "blue", offline
            audit = s.request("GET", "/api/v1/audit?page_size=200", token=t["admin"]).json()["items"]
            assert [a for a in audit if a["action"] == "rule.add" and a["actor"] == "system"], audit
            assert s.request("DELETE", "/api/v1/rules/%d" % offline["id"], token=t["admin"]).status == 204
            s.stop()
            s.start()
            t["admin"] = s.login("admin")
            again = s.request("GET", "/api/v1/rules", token=t["admin"]).json()["items"]
            assert len(again) == len(DEFAULT_NAMES) - 1, [x["name"] for x in again]

        p = s.cli("rules", "import", "data/luohu/rules.json", check=False)
        if p.returncode != 0 and "unknown" in p.stderr + p.stdout:
            print("SKIP test_alerts rules import: `citydesk rules` is not in main.c yet")
            return
        assert p.returncode == 0, p.stderr
        before = len(s.request("GET", "/api/v1/rules", token=t["admin"]).json()["items"])
        assert before == len(DEFAULT_NAMES), before
        p = s.cli("rules", "import", "data/luohu/rules.json")
        assert p.stdout.strip() == "0 added, 0 updated, %d unchanged" % len(DEFAULT_NAMES), p.stdout
        p = s.cli("rules", "list")
        assert len(p.stdout.strip().splitlines()) == len(DEFAULT_NAMES), p.stdout
        bad = s.cli("rules", "import", "/nonexistent/rules.json", check=False)
        assert bad.returncode == 2 and "cannot read" in bad.stderr, bad.stderr
