"""Black-box tests of cases: intake through every stage, the workflow, scope, masking,
deadlines on the official calendar, overdue marking, files and scores."""
import os
import re
import sqlite3
import time

from harness import Server, expect_error

DONGMEN = (22.548, 114.118)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def setup_people(s):
    s.add_user("admin", "admin")
    s.add_user("disp", "district_dispatcher")
    s.add_user("dongmen", "street_dispatcher", street="440303003")
    s.add_user("guiyuan", "street_dispatcher", street="440303001")
    s.add_user("grid1", "grid_worker", street="440303003")
    s.add_user("res1", "citizen")
    return {u: s.login(u) for u in ("admin", "disp", "dongmen", "guiyuan", "grid1", "res1")}


def new_case(s, tok, **kw):
    body = {"description": "东门老街路口井盖缺失，很危险", "lat": DONGMEN[0], "lng": DONGMEN[1]}
    body.update(kw)
    return s.request("POST", "/api/v1/cases", body, token=tok)


def act(s, tok, ref, action, **kw):
    kw["action"] = action
    return s.request("POST", "/api/v1/cases/%s/actions" % ref, kw, token=tok)


def test_intake_places_classifies_routes_and_sets_deadline():
    with Server() as s:
        t = setup_people(s)
        r = new_case(s, t["disp"], category="UM06010", reporter={"name": "张三", "phone": "13812341234"})
        assert r.status == 201, r
        c = r.json()
        assert re.fullmatch(r"LH\d{8}\d{6}", c["id"]), c["id"]
        assert c["status"] == "reported" and c["channel"] == "hotline"
        assert c["street"]["code"] == "440303003" and c["community"]["code"].startswith("440303003")
        assert c["grid"]["code"].startswith(c["community"]["code"])
        cat = c["category"]
        assert cat["code"] == "UM06010" and cat["source"] == "given" and cat["confidence"] == 1
        assert [p["code"] for p in cat["path"]][:3] == ["U", "UM", "UM06"], cat["path"]
        again = new_case(s, t["disp"], category="UM06010", description="同一类别的第二宗")
        assert again.status == 201 and again.json()["category"] == cat  # the remembered JSON
        assert c["unit"]["code"] == "D-CGZF", c["unit"]  # UM06 (市容环境) goes to 城管 district-wide
        assert c["deadline"] and c["deadline"].endswith("+08:00")
        assert c["reporter"] == {"name": "张三", "phone": "13812341234", "masked": False}
        # Unknown category, a point outside, a description too long, unknown and unpaired fields.
        expect_error(new_case(s, t["disp"], category="NOPE"), 422, field="category")
        expect_error(new_case(s, t["disp"], lat=22.30, lng=114.10), 422, "outside_jurisdiction")
        expect_error(new_case(s, t["disp"], description="长" * 4001), 422, field="description")
        assert new_case(s, t["disp"], description="长" * 4000).status == 201
        expect_error(new_case(s, t["disp"], colour="red"), 422, "unknown_field", "colour")
        expect_error(s.request("POST", "/api/v1/cases", {"description": "x", "lat": 22.5}, token=t["disp"]),
                     422, field="lng")
        expect_error(new_case(s, t["disp"], channel="pigeon"), 422, field="channel")
        expect_error(new_case(s, t["disp"], reported_at="2026-01-01T00:00:00+08:00"), 403, field="reported_at")
        expect_error(new_case(s, t["res1"], channel="hotline"), 403, field="channel")
        expect_error(s.request("POST", "/api/v1/cases", {"description": "x"}), 401)


def test_address_only_and_unplaced_reports():
    with Server() as s:
        t = setup_people(s)
        r = s.request("POST", "/api/v1/cases", {"description": "路面破损", "address": "罗湖区东门街道老街"},
                      token=t["disp"])
        assert r.status == 201 and r.json()["street"]["code"] == "440303003", r
        assert r.json()["grid"] is None and r.json()["location"] is None
        r = s.request("POST", "/api/v1/cases", {"description": "路面破损", "address": "某个不知道的地方"},
                      token=t["disp"])
        triage = s.request("GET", "/api/v1/cases?triage=true", token=t["disp"]).json()
        assert all(c["category"] is None for c in triage["items"]) and triage["total"] >= 1, triage
        expect_error(s.request("GET", "/api/v1/cases?triage=maybe", token=t["disp"]), 422, field="triage")
        assert r.status == 201 and r.json()["street"] is None, r  # waits for a dispatcher to place it
        ref = r.json()["id"]
        expect_error(s.request("GET", "/api/v1/cases/" + ref, token=t["dongmen"]), 404)  # no street yet
        expect_error(s.request("POST", "/api/v1/cases/%s/location" % ref, {"lat": 22.5}, token=t["disp"]),
                     422, field="lng")
        expect_error(s.request("POST", "/api/v1/cases/%s/location" % ref, {"lat": 22.548, "lng": 114.118},
                               token=t["grid1"]), 403)
        placed = s.request("POST", "/api/v1/cases/%s/location" % ref, {"lat": 22.548, "lng": 114.118},
                           token=t["disp"])
        assert placed.status == 200, placed
        p = placed.json()
        assert p["street"]["code"] == "440303003" and p["grid"]["code"].startswith(p["community"]["code"]), p
        assert p["unit"] is not None and p["status"] == "reported", p
        assert s.request("GET", "/api/v1/cases/" + ref, token=t["dongmen"]).status == 200
        history = s.request("GET", "/api/v1/cases/" + ref, token=t["disp"]).json()["history"]
        assert [e["action"] for e in history] == ["report", "place"], history


def test_external_id_is_idempotent():
    with Server() as s:
        t = setup_people(s)
        a = new_case(s, t["disp"], external_id="12345-0001")
        b = new_case(s, t["disp"], external_id="12345-0001", description="again")
        assert a.status == 201 and b.status == 200, (a, b)
        assert a.json()["id"] == b.json()["id"]
        c = new_case(s, t["disp"], external_id="12345-0001", channel="grid")
        assert c.status == 201 and c.json()["id"] != a.json()["id"]


def test_a_full_day_of_refs_is_a_clear_error():
    """A ref holds six digits of sequence per day: the 1,000,000th case of a day is refused with
    a JSON error naming reported_at (not a 500), nothing is stored, and other days go on."""
    with Server() as s:
        t = setup_people(s)
        r = new_case(s, t["admin"], reported_at="2026-09-30T10:00:00+08:00")
        assert r.status == 201 and r.json()["id"] == "LH20260930000001", r
        s.stop()
        db = sqlite3.connect(os.path.join(s.data, "citydesk.db"))
        db.execute("UPDATE cases SET ref = 'LH20260930999999' WHERE ref = 'LH20260930000001'")
        db.commit()
        db.close()
        s.start()
        t = {u: s.login(u) for u in ("admin",)}
        r = new_case(s, t["admin"], reported_at="2026-09-30T11:00:00+08:00", external_id="full-1")
        expect_error(r, 503, code="day_full", field="reported_at")
        r = new_case(s, t["admin"], reported_at="2026-10-08T11:00:00+08:00")
        assert r.status == 201 and r.json()["id"] == "LH20261008000001", r
        listed = s.request("GET", "/api/v1/cases?page_size=50", token=t["admin"]).json()
        assert listed["total"] == 2, listed["total"]
        assert s.request("GET", "/healthz").status == 200


def test_a_full_day_is_a_clear_error_on_every_channel():
    """The residents' endpoint and Open311 report 'now': when today's refs are used up they answer
    503 day_full naming reported_at (Open311 in its own error form), not a 500, and store nothing."""
    import datetime
    import urllib.parse
    today = lambda: datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).strftime("%Y%m%d")
    with Server() as s:
        t = setup_people(s)
        day = today()
        r = new_case(s, t["admin"])
        assert r.status == 201 and r.json()["id"] == "LH%s000001" % day, r
        s.stop()
        db = sqlite3.connect(os.path.join(s.data, "citydesk.db"))
        db.execute("UPDATE cases SET ref = ? WHERE ref = ?", ("LH%s999999" % day, "LH%s000001" % day))
        db.commit()
        db.close()
        s.start()
        admin = s.login("admin")
        key = s.cli("apikey", "add", "--name", "fms").stdout.strip()
        pub = s.request("POST", "/api/v1/public/reports", {"description": "东门老街路口井盖缺失，晚上很危险",
                                                            "lat": DONGMEN[0], "lng": DONGMEN[1],
                                                            "phone": "13812345678", "name": "王小明"})
        form = urllib.parse.urlencode({"api_key": key, "service_code": "UP01001", "lat": DONGMEN[0],
                                       "long": DONGMEN[1], "description": "人行道上的供水井盖破损",
                                       "attribute[part_state]": "damaged"}).encode()
        o311 = s.request("POST", "/open311/v2/requests.json", raw=form,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        if today() != day:
            return  # midnight in Shenzhen passed during the test: a new day has refs again
        expect_error(pub, 503, code="day_full", field="reported_at")
        assert o311.status == 503, o311
        err = o311.json()
        assert err[0]["code"] == 503 and "999,999" in err[0]["description"], err
        listed = s.request("GET", "/api/v1/cases?page_size=50", token=admin).json()
        assert listed["total"] == 1, listed["total"]
        assert s.request("GET", "/healthz").status == 200


def test_deadline_follows_the_official_calendar():
    with Server() as s:
        t = setup_people(s)
        # The example: Wed 2026-09-30 10:00 + 5 working days -> Tue 2026-10-13 10:00
        # (Oct 1-7 off, Sat Oct 10 worked).
        r = new_case(s, t["admin"], reported_at="2026-09-30T10:00:00+08:00", time_limit={"working_days": 5})
        assert r.status == 201, r
        assert r.json()["deadline"] == "2026-10-13T10:00:00+08:00", r.json()["deadline"]
        r = new_case(s, t["admin"], reported_at="2026-10-09T17:00:00+08:00", time_limit={"working_hours": 2})
        assert r.json()["deadline"] == "2026-10-10T09:30:00+08:00", r.json()["deadline"]
        expect_error(new_case(s, t["grid1"], time_limit={"hours": 2}), 403, field="time_limit")
        expect_error(new_case(s, t["admin"], time_limit={"weeks": 2}), 422, field="time_limit")


def test_whole_workflow_scope_masking_and_scores():
    with Server() as s:
        t = setup_people(s)
        s.add_user("cg1", "unit_staff", unit="D-CGZF")
        t["cg1"] = s.login("cg1")
        r = new_case(s, t["res1"], category="UM06010", reporter={"name": "李四", "phone": "13900001111"})
        assert r.status == 201 and r.json()["channel"] == "app", r
        ref = r.json()["id"]
        # Scope: the other street's dispatcher cannot see it; masking for the grid worker.
        expect_error(s.request("GET", "/api/v1/cases/" + ref, token=t["guiyuan"]), 404)
        g = s.request("GET", "/api/v1/cases/" + ref, token=t["grid1"]).json()
        assert g["reporter"]["phone"] == "139****1111" and g["reporter"]["masked"], g["reporter"]
        assert g["reporter"]["name"] == "李*", g["reporter"]
        assert s.request("GET", "/api/v1/cases/" + ref, token=t["dongmen"]).json()["reporter"]["phone"] == "13900001111"
        listing = s.request("GET", "/api/v1/cases?street=440303003", token=t["guiyuan"]).json()
        assert listing["total"] == 0, listing
        assert s.request("GET", "/api/v1/cases", token=t["dongmen"]).json()["total"] == 1
        # Unit staff may not register: 409 lists what they may do (nothing yet).
        r = act(s, t["cg1"], ref, "register")
        assert r.status in (404, 409), r  # not dispatched to the unit yet: outside its scope
        r = act(s, t["dongmen"], ref, "close")
        err = expect_error_409(r)
        assert "register" in err["allowed_actions"], err
        for who, action, kw, status in (("dongmen", "register", {}, "registered"),
                                        ("dongmen", "dispatch", {}, "dispatched"),
                                        ("cg1", "accept", {}, "accepted"),
                                        ("cg1", "handle", {"result": "已清理"}, "handled"),
                                        ("grid1", "verify", {"passed": False}, "accepted"),
                                        ("cg1", "handle", {"result": "已彻底清理"}, "handled"),
                                        ("grid1", "verify", {"passed": True}, "verified"),
                                        ("dongmen", "close", {}, "closed"),
                                        ("res1", "rate", {"satisfaction": "satisfied"}, "rated")):
            r = act(s, t[who], ref, action, **kw)
            assert r.status == 200, (who, action, r)
            assert r.json()["status"] == status, (action, r.json()["status"])
        c = s.request("GET", "/api/v1/cases/" + ref, token=t["disp"]).json()
        actions = [e["action"] for e in c["history"]]
        assert actions == ["report", "register", "dispatch", "accept", "handle", "verify", "handle", "verify",
                           "close", "rate"], actions
        assert c["rework_count"] == 1 and c["satisfaction"] == "satisfied" and c["unit"]["code"] == "D-CGZF"
        expect_error(act(s, t["disp"], ref, "verify"), 422, field="passed")
        expect_error(act(s, t["disp"], ref, "fly"), 422, field="action")
        scores = s.request("GET", "/api/v1/scores?by=unit", token=t["disp"]).json()
        row = [x for x in scores["rows"] if x["key"] == "D-CGZF"][0]
        assert row["closed"] == 1 and row["on_time_rate"] == 1 and row["satisfaction_rate"] == 1, row
        assert row["rework"] == 1 and row["small_sample"] is True, row
        csv = s.request("GET", "/api/v1/scores?by=street&format=csv", token=t["disp"])
        assert csv.status == 200 and csv.header("Content-Type").startswith("text/csv"), csv
        assert "440303003" in csv.body.decode("utf-8-sig"), csv.body[:200]
        expect_error(s.request("GET", "/api/v1/scores?by=planet", token=t["disp"]), 422, field="by")
        expect_error(s.request("GET", "/api/v1/scores", token=t["res1"]), 403)


def expect_error_409(r):
    assert r.status == 409, r
    err = r.json()["error"]
    assert err["code"] == "action_not_allowed" and isinstance(err["allowed_actions"], list), err
    return err


def test_overdue_cases_are_marked():
    with Server() as s:
        t = setup_people(s)
        r = new_case(s, t["admin"], reported_at="2026-01-05T09:00:00+08:00", time_limit={"hours": 1})
        ref = r.json()["id"]
        deadline = time.time() + 15
        while time.time() < deadline:
            c = s.request("GET", "/api/v1/cases/" + ref, token=t["disp"]).json()
            if c["overdue"]:
                break
            time.sleep(0.3)
        assert c["overdue"] and c["warned"], c
        assert "overdue" in [e["action"] for e in c["history"]]
        overdue = s.request("GET", "/api/v1/cases?overdue=true", token=t["disp"]).json()
        assert [x["id"] for x in overdue["items"]] == [ref], overdue


def test_files_images_only():
    with Server() as s:
        t = setup_people(s)
        r = s.request("POST", "/api/v1/files", raw=PNG, headers={"Content-Type": "image/png"}, token=t["grid1"])
        assert r.status == 201 and len(r.json()["id"]) == 32, r
        fid = r.json()["id"]
        expect_error(s.request("POST", "/api/v1/files", raw=b"hello", headers={"Content-Type": "text/plain"},
                               token=t["grid1"]), 415)
        expect_error(s.request("POST", "/api/v1/files", raw=b"GIF89a...", headers={"Content-Type": "image/png"},
                               token=t["grid1"]), 422)
        c = new_case(s, t["grid1"], attachments=[fid])
        assert c.status == 201 and c.json()["attachments"] == [fid], c
        expect_error(new_case(s, t["grid1"], attachments=["0" * 32]), 422, field="attachments")
        got = s.request("GET", "/api/v1/files/" + fid, token=t["disp"])
        assert got.status == 200 and got.body == PNG and got.header("Content-Type") == "image/png"


def test_categories_are_public():
    with Server() as s:
        r = s.request("GET", "/api/v1/categories?root=H&max_depth=1")
        assert r.status == 200, r
        items = r.json()["items"]
        assert len(items) == 16 and items[0]["code"] == "H", len(items)
        assert any(i["code"] == "H01" and i["name"] == "城乡建设" for i in items)


def test_exports_csv_xlsx_masked_and_audited():
    with Server() as s:
        t = setup_people(s)
        r = new_case(s, t["disp"], category="UM06010", description="=HYPERLINK(\"x\") 井盖缺失，回电13912345678",
                     reporter={"name": "王五", "phone": "13712345678"})
        ref = r.json()["id"]
        csv = s.request("GET", "/api/v1/cases?format=csv", token=t["grid1"])
        assert csv.status == 200 and csv.header("Content-Type").startswith("text/csv"), csv
        assert "attachment" in csv.header("Content-Disposition")
        text = csv.body.decode("utf-8-sig")
        assert ref in text and "137****5678" in text and "13712345678" not in text, text[:400]
        assert "139****5678" in text and "13912345678" not in text, text[:400]  # in the description too
        seen = s.request("GET", "/api/v1/cases/" + ref, token=t["grid1"]).json()["description"]
        assert seen.endswith("回电139****5678"), seen
        assert s.request("GET", "/api/v1/cases/" + ref, token=t["disp"]).json()["description"].endswith("13912345678")
        assert "'=HYPERLINK" in text, text  # formula injection defused
        full = s.request("GET", "/api/v1/cases?format=csv", token=t["disp"]).body.decode("utf-8-sig")
        assert "13712345678" in full
        xlsx = s.request("GET", "/api/v1/cases?format=xlsx", token=t["disp"])
        assert xlsx.status == 200 and xlsx.body[:2] == b"PK", xlsx.header("Content-Type")
        scores = s.request("GET", "/api/v1/scores?by=street&format=xlsx", token=t["disp"])
        assert scores.status == 200 and scores.body[:2] == b"PK", scores
        expect_error(s.request("GET", "/api/v1/cases?format=pdf", token=t["disp"]), 422, field="format")
        audit = s.request("GET", "/api/v1/audit?page_size=10", token=t["admin"]).json()["items"]
        actions = [a["action"] for a in audit]
        assert "cases.export" in actions and "scores.export" in actions, actions


def test_a_district_imports_its_own_category_tree():
    with Server() as s:
        bad = s.data + "/bad.csv"
        with open(bad, "w", encoding="utf-8") as f:
            f.write("code,name,parent_code,limit_kind,limit_value,urgency\nA,市容,,working_days,3,normal\n"
                    "A1,垃圾,NOPE,,,\n")
        r = s.cli("import", "categories", bad, check=False)
        assert r.returncode != 0 and "line 3" in r.stderr, r.stderr
        good = s.data + "/good.csv"
        with open(good, "w", encoding="utf-8") as f:
            f.write("code,name,parent_code,limit_kind,limit_value,urgency\nA,市容环境,,working_days,3,normal\n"
                    "A1,暴露垃圾,A,hours,4,urgent\n")
        s.cli("import", "categories", good)
        s.stop()
        s.start()
        items = s.request("GET", "/api/v1/categories").json()["items"]
        assert [i["code"] for i in items] == ["A", "A1"], items
        assert items[1]["time_limit"] == {"hours": 4} and items[1]["urgency"] == "urgent", items[1]


def test_traditional_and_full_width_input():
    with Server() as s:
        t = setup_people(s)
        simp = new_case(s, t["disp"], description="小区门口垃圾堆积无人清理，气味很大").json()
        trad = new_case(s, t["disp"], description="小區門口垃圾堆積，無人清理，氣味很大").json()
        assert simp["category"] is not None, simp["category"]
        assert trad["category"] and trad["category"]["code"] == simp["category"]["code"], (simp["category"],
                                                                                            trad["category"])
        assert trad["description"].startswith("小區門口"), trad["description"]  # shown as written
        wide = new_case(s, t["disp"], description="　路灯ＡＢＣ１２３号不亮　").json()
        assert wide["description"] == "路灯ABC123号不亮", wide["description"]


def test_trained_model_classifies_intake_and_the_classify_endpoint():
    import os
    from harness import ROOT
    with Server() as s:
        t = setup_people(s)
        # Keywords before any training.
        r = s.request("POST", "/api/v1/classify", {"text": "路灯不亮已经一周了"}, token=t["disp"])
        assert r.status == 200 and r.json()["category"]["source"] == "keyword", r
        # A case whose category the dispatcher corrected, taken through to closing: a new label.
        ref = new_case(s, t["admin"], description="小区电梯经常故障困人").json()["id"]
        for action, kw in (("register", {"category": "H0101"}), ("dispatch", {}), ("accept", {}),
                           ("handle", {"result": "已维修"}), ("verify", {"passed": True}), ("close", {})):
            r = act(s, t["admin"], ref, action, **kw)
            assert r.status == 200, (action, r)
        train = os.path.join(ROOT, "..", "shared", "data", "complaints", "taidi2020C_train.csv")
        out = s.cli("train", "--taxonomy", "hotline", "--cv", "0", train)
        assert out.returncode == 0, out.stderr
        assert "closed cases with a category chosen by a person: 1" in out.stdout, out.stdout
        s.stop()
        s.start()
        t = {u: s.login(u) for u in ("disp",)}
        text = "小区物业乱收停车费，业主多次反映无人处理"
        r = s.request("POST", "/api/v1/classify", {"text": text}, token=t["disp"])
        body = r.json()
        assert r.status == 200 and body["category"]["source"] == "model", body
        assert body["category"]["code"].startswith("H") and len(body["alternatives"]) == 2, body
        trad = s.request("POST", "/api/v1/classify", {"text": "小區物業亂收停車費，業主多次反映無人處理"},
                         token=t["disp"]).json()
        assert trad["category"]["code"] == body["category"]["code"], (trad, body)
        c = new_case(s, t["disp"], description=text).json()
        if body["automatic"]:
            assert c["category"]["code"] == body["category"]["code"] and c["category"]["source"] == "auto", c
        else:
            assert c["category"] is None, c
        expect_error(s.request("POST", "/api/v1/classify", {"text": ""}, token=t["disp"]), 422, field="text")
