"""Black-box tests of the residents' endpoints (/api/v1/public): report without an account,
track by number and phone (and not with another phone), masking, rating after closing with
dissatisfied reopening the case, photos, limits per address, news and activities."""
import datetime

from harness import Server, expect_error

DONGMEN = (22.548, 114.118)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PHONE = "13812345678"


def wired(s):
    """False (and says SKIP) while the public routes are not in src/api/routes.c yet."""
    if s.request("GET", "/api/v1/public/news").status == 404:
        print("SKIP: /api/v1/public routes answer 404 (not wired yet)")
        return False
    return True


def report(s, **kw):
    body = {"description": "东门老街路口井盖缺失，晚上很危险", "lat": DONGMEN[0], "lng": DONGMEN[1],
            "phone": PHONE, "name": "王小明"}
    body.update(kw)
    return s.request("POST", "/api/v1/public/reports", body)


def track(s, ref, phone=PHONE):
    return s.request("POST", "/api/v1/public/track", {"ref": ref, "phone": phone})


def act(s, tok, ref, action, **kw):
    kw["action"] = action
    r = s.request("POST", "/api/v1/cases/%s/actions" % ref, kw, token=tok)
    assert r.status == 200, (action, r)
    return r.json()


def close_case(s, tok, ref, first=True):
    if first:
        act(s, tok, ref, "register")
        act(s, tok, ref, "dispatch")
    act(s, tok, ref, "accept")
    act(s, tok, ref, "handle", result="已更换井盖")
    act(s, tok, ref, "verify", passed=True)
    act(s, tok, ref, "close")


def test_report_and_track_with_the_right_phone_only():
    with Server() as s:
        if not wired(s):
            return
        r = report(s)
        assert r.status == 201, r
        got = r.json()
        ref = got["ref"]
        assert ref.startswith("LH"), got
        assert got["status"] == "reported" and got["status_label"]
        assert got["phone"] == "138****5678", got
        assert got["street"]["code"] == "440303003", got
        assert PHONE not in r.body.decode()

        r = track(s, ref)
        assert r.status == 200, r
        v = r.json()
        assert v["ref"] == ref and v["status"] == "reported" and v["channel"] == "app"
        assert v["reporter"] == {"name": "王**", "phone": "138****5678"}, v["reporter"]
        assert [h["action"] for h in v["history"]] == ["report"], v["history"]
        assert "actor" not in v["history"][0]
        assert v["can_rate"] is False
        # The same number typed another way still matches.
        assert track(s, ref, "+86 138-1234-5678").status == 200

        # Another phone, or a number that does not exist, looks the same: 404.
        expect_error(track(s, ref, "13900000000"), 404, "not_found")
        expect_error(track(s, "LH20200101000001"), 404, "not_found")
        expect_error(track(s, ref, "abc"), 422, field="phone")


def test_report_validation():
    with Server() as s:
        if not wired(s):
            return
        expect_error(s.request("POST", "/api/v1/public/reports", {"description": "路灯坏了", "lat": DONGMEN[0],
                                                                  "lng": DONGMEN[1]}), 422, field="phone")
        expect_error(report(s, phone="12"), 422, field="phone")
        body = {"description": "路灯坏了", "phone": PHONE}
        expect_error(s.request("POST", "/api/v1/public/reports", body), 422, field="lat")
        expect_error(report(s, channel="hotline"), 422, "unknown_field")
        expect_error(report(s, lat=22.3, lng=114.3), 422, "outside_jurisdiction")
        expect_error(report(s, category="NOPE"), 422, "unknown_category")
        expect_error(report(s, attachments=["0" * 32]), 422, field="attachments")
        # An address alone is a place.
        r = s.request("POST", "/api/v1/public/reports",
                      {"description": "黄贝岭社区菜市场门口垃圾满溢", "address": "黄贝岭社区菜市场", "phone": PHONE})
        assert r.status == 201, r


def test_personal_data_is_masked_for_the_public_and_whole_for_staff():
    with Server() as s:
        if not wired(s):
            return
        r = report(s, description="楼下商铺噪音扰民，店主电话13987654321，身份证11010519491231002X")
        ref = r.json()["ref"]
        v = track(s, ref).json()
        assert "13987654321" not in v["description"], v["description"]
        assert "11010519491231002X" not in v["description"], v["description"]
        s.add_user("admin", "admin")
        tok = s.login("admin")
        staff = s.request("GET", "/api/v1/cases/" + ref, token=tok).json()
        assert PHONE in staff["reporter"]["phone"], staff["reporter"]
        assert staff["channel"] == "app"


def test_rate_after_closing_and_dissatisfied_reopens():
    with Server() as s:
        if not wired(s):
            return
        s.add_user("admin", "admin")
        tok = s.login("admin")
        ref = report(s).json()["ref"]
        rate = lambda sat, phone=PHONE: s.request("POST", "/api/v1/public/reports/%s/rating" % ref,
                                                  {"phone": phone, "satisfaction": sat})
        expect_error(rate("satisfied"), 409, "not_ratable")
        close_case(s, tok, ref)
        v = track(s, ref).json()
        assert v["status"] == "closed" and v["can_rate"] is True, v
        assert any(h["action"] == "handle" and h.get("comment") == "已更换井盖" for h in v["history"]), v["history"]
        expect_error(rate("satisfied", "13900000000"), 404, "not_found")
        expect_error(rate("so-so"), 422, field="satisfaction")

        r = rate("不满意")
        assert r.status == 200, r
        v = r.json()
        assert v["status"] == "dispatched" and v["satisfaction"] == "dissatisfied", v
        staff = s.request("GET", "/api/v1/cases/" + ref, token=tok).json()
        assert staff["rework_count"] == 1, staff
        assert staff["history"][-1]["actor"] == "resident" and staff["history"][-1]["action"] == "rate"

        close_case(s, tok, ref, first=False)
        r = rate("basically_satisfied")
        assert r.status == 200 and r.json()["status"] == "rated", r
        expect_error(rate("satisfied"), 409, "not_ratable")


def test_photos_follow_the_files_rules():
    with Server() as s:
        if not wired(s):
            return
        up = lambda body, ctype: s.request("POST", "/api/v1/public/files", raw=body,
                                           headers={"Content-Type": ctype})
        r = up(PNG, "image/png")
        assert r.status == 201, r
        fid = r.json()["id"]
        assert len(fid) == 32 and r.json()["mime"] == "image/png"
        expect_error(up(b"hello", "text/plain"), 415)
        expect_error(up(b"not a png at all", "image/png"), 422, "invalid_image")
        ref = report(s, attachments=[fid]).json()["ref"]
        assert track(s, ref).json()["photos"] == 1
        expect_error(report(s, attachments=[fid] * 4), 422, field="attachments")


def test_reports_are_limited_per_address():
    with Server() as s:
        if not wired(s):
            return
        for i in range(5):
            assert report(s, description="第%d次反映：路灯不亮" % i).status == 201
        r = report(s)
        expect_error(r, 429, "too_many_requests")
        assert int(r.header("Retry-After")) > 0
        # Guessing phone numbers is limited the same way.
        ref = "LH20200101000001"
        for i in range(5):
            expect_error(track(s, ref, "1390000000%d" % i), 404)
        expect_error(track(s, ref, "13900000009"), 429)


def test_news_and_activities():
    with Server() as s:
        if not wired(s):
            return
        r = s.request("GET", "/api/v1/public/news?kind=news")
        assert r.status == 200, r
        news = r.json()["items"]
        assert news, "web/app.news.json has news"
        dates = [n["date"] for n in news]
        assert dates == sorted(dates, reverse=True)
        r = s.request("GET", "/api/v1/public/news?kind=activity&page_size=100")
        acts = r.json()["items"]
        today = (datetime.datetime.utcnow() + datetime.timedelta(hours=8)).strftime("%Y-%m-%d")
        assert acts and all(a["date"] >= today for a in acts), acts
        assert [a["date"] for a in acts] == sorted(a["date"] for a in acts)
        # A community sees the district's items and its own, not another community's.
        only = [a for a in acts if a.get("community")]
        if only:
            code = only[0]["community"]
            mine = s.request("GET", "/api/v1/public/news?kind=activity&page_size=100&community=" + code).json()["items"]
            assert all(a.get("community") in (None, "", code) for a in mine)
        expect_error(s.request("GET", "/api/v1/public/news?kind=gossip"), 422, field="kind")


def test_categories_and_map_are_public():
    with Server() as s:
        if not wired(s):
            return
        r = s.request("GET", "/api/v1/categories?max_depth=1")
        assert r.status == 200 and r.json()["items"], r
        r = s.request("GET", "/api/v1/map/locate?lat=%f&lng=%f" % DONGMEN)
        assert r.status == 200 and r.json()["street"]["code"] == "440303003", r
