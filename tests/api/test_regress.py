"""One test per fixed bug, named after it."""
import json
import threading
import http.client

from harness import Server


def test_regress_scores_by_unit_deadlocked_looking_up_names_inside_the_store_walk():
    # api/scores.c looked up unit names from inside store_scores' callback, which runs with the
    # store locked: the request hung forever. Names are now looked up after the walk.
    with Server() as s:
        s.add_user("d", "district_dispatcher")
        tok = s.login("d")
        r = s.request("POST", "/api/v1/cases", {"description": "井盖缺失", "lat": 22.548, "lng": 114.118,
                                                 "category": "UM06010"}, token=tok)
        assert r.status == 201, r
        for by in ("unit", "street", "category"):
            r = s.request("GET", "/api/v1/scores?by=" + by, token=tok, timeout=10)
            assert r.status == 200 and r.json()["rows"], (by, r)
            assert all(row["name"] for row in r.json()["rows"] if row["key"]), r.json()["rows"]


def test_regress_case_pages_stopped_at_200_though_the_api_allows_500():
    # The store capped a page at 200 cases while the API promises page_size up to 500, so a client
    # paging by 500 stopped after the first page and missed cases.
    with Server() as s:
        s.add_user("sys", "system")
        tok = s.login("sys")

        def feed(n):
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
            for i in range(90):
                body = json.dumps({"channel": "system", "external_id": "p-%d-%d" % (n, i), "description": "路灯不亮",
                                   "lat": 22.548, "lng": 114.118, "category": "UP01037"})
                conn.request("POST", "/api/v1/cases", body=body.encode(),
                             headers={"Content-Type": "application/json", "Authorization": "Bearer " + tok})
                resp = conn.getresponse()
                resp.read()
                assert resp.status == 201

        threads = [threading.Thread(target=feed, args=(n,)) for n in range(3)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        page = s.request("GET", "/api/v1/cases?page_size=500", token=tok).json()
        assert page["total"] == 270 and len(page["items"]) == 270, (page["total"], len(page["items"]))
