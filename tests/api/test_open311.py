"""Open311 GeoReport v2 under /open311/v2, black-box: every JSON answer is validated against the
official schemas (../shared/reference/open311/schemas), the XML forms are parsed and checked,
and requests go through the same intake pipeline as every other channel."""
import json
import os
import urllib.parse
import xml.etree.ElementTree as ET

import jsonschema
from jsonschema import Draft4Validator
from referencing import Registry, Resource

from harness import ROOT, Server

SCHEMAS = os.path.join(os.path.dirname(ROOT), "shared", "reference", "open311", "schemas")
JSON_CT = "application/json; charset=utf-8"
XML_CT = "text/xml; charset=utf-8"
DONGMEN = (22.548, 114.118)
REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code",
                  "description", "agency_responsible", "service_notice", "requested_datetime",
                  "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
                  "long", "media_url"]


def validator(name):
    resources = []
    for f in os.listdir(SCHEMAS):
        if f.endswith(".json"):
            with open(os.path.join(SCHEMAS, f)) as fh:
                resources.append((f, Resource.from_contents(json.load(fh), default_specification=
                                                            jsonschema.validators.Draft4Validator.META_SCHEMA and
                                                            __import__("referencing.jsonschema").jsonschema.DRAFT4)))
    registry = Registry().with_resources(resources)
    with open(os.path.join(SCHEMAS, name)) as fh:
        schema = json.load(fh)
    return Draft4Validator(schema, registry=registry, format_checker=Draft4Validator.FORMAT_CHECKER)


def check(name, doc):
    errors = sorted(validator(name).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "%s: %s" % (name, "; ".join("%s: %s" % (list(e.path), e.message) for e in errors[:5]))


def form(srv, path, fields):
    body = urllib.parse.urlencode(fields, doseq=True).encode()
    return srv.request("POST", path, raw=body, headers={"Content-Type": "application/x-www-form-urlencoded"})


def new_key(srv, name="fixmystreet", per_minute=None):
    args = ["apikey", "add", "--name", name] + (["--per-minute", str(per_minute)] if per_minute else [])
    return srv.cli(*args).stdout.strip()


def post_request(srv, key, **extra):
    fields = {"api_key": key, "service_code": "UP01001", "lat": DONGMEN[0], "long": DONGMEN[1],
              "description": "人行道上的供水井盖破损，电话13812345678", "attribute[part_state]": "damaged"}
    fields.update(extra)
    return form(srv, "/open311/v2/requests.json", fields)


def test_discovery_and_services_both_formats():
    with Server() as srv:
        r = srv.request("GET", "/open311/v2/discovery.json")
        assert r.status == 200 and r.header("Content-Type") == JSON_CT, r
        d = r.json()
        ep = d["endpoints"][0]
        assert ep["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert set(ep["formats"]) == {"text/xml", "application/json"}
        x = srv.request("GET", "/open311/v2/discovery.xml")
        assert x.header("Content-Type") == XML_CT
        root = ET.fromstring(x.body)
        assert root.tag == "discovery" and root.find("endpoints/endpoint/specification").text == ep["specification"]
        assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ep["formats"]

        services = srv.request("GET", "/open311/v2/services.json").json()
        check("services.json", services)
        codes = {s["service_code"] for s in services}
        assert "UP01001" in codes and "H010101" in codes and "H" not in codes  # leaves only
        assert all(isinstance(s["metadata"], bool) for s in services)
        sx = ET.fromstring(srv.request("GET", "/open311/v2/services.xml").body)
        assert sx.tag == "services" and len(sx.findall("service")) == len(services)

        definition = srv.request("GET", "/open311/v2/services/UP01001.json").json()
        check("service-definition.json", definition)
        attrs = {a["code"]: a for a in definition["attributes"]}
        assert attrs["part_state"]["required"] is True
        assert {"key": "damaged", "name": "破损 damaged"} in attrs["part_state"]["values"]
        orders = [a["order"] for a in definition["attributes"]]
        assert len(set(orders)) == len(orders) and min(orders) >= 1
        dx = ET.fromstring(srv.request("GET", "/open311/v2/services/UP01001.xml").body)
        assert dx.tag == "service_definition"
        assert dx.find("attributes/attribute/values/value/key") is not None

        r = srv.request("GET", "/open311/v2/services/NOPE.json")
        assert r.status == 404 and r.json()[0]["code"] == 404
        r = srv.request("GET", "/open311/v2/services.txt")
        assert r.status == 404
        r = srv.request("GET", "/open311/v2/services.json?jurisdiction_id=beijing")
        assert r.status == 404
        assert srv.request("GET", "/open311/v2/services.json?jurisdiction_id=440303").status == 200


def test_post_request_enters_the_pipeline():
    with Server() as srv:
        key = new_key(srv)
        r = post_request(srv, key, media_url="https://example.org/photo.jpg",
                         **{"attribute[fixmystreet_id]": "fms-1001", "first_name": "伟", "last_name": "王"})
        assert r.status == 201 and r.header("Content-Type") == JSON_CT, r
        ans = r.json()
        sid = ans[0]["service_request_id"]
        assert isinstance(sid, str) and sid.startswith("LH")
        # the same FixMyStreet report again returns the same request
        again = post_request(srv, key, **{"attribute[fixmystreet_id]": "fms-1001"})
        assert again.status == 200 and again.json()[0]["service_request_id"] == sid

        one = srv.request("GET", "/open311/v2/requests/%s.json" % sid)
        doc = one.json()
        check("requests.json", doc)
        req = doc[0]
        assert list(req.keys())[:len(REQUEST_FIELDS)] == REQUEST_FIELDS
        assert req["status"] == "open" and req["service_code"] == "UP01001"
        assert req["requested_datetime"].endswith("+08:00")
        assert "13812345678" not in req["description"] and "138****5678" in req["description"]
        assert req["media_url"] == "https://example.org/photo.jpg"
        assert abs(req["lat"] - DONGMEN[0]) < 1e-6 and req["agency_responsible"]

        # it is an ordinary case to staff: located, routed, with its first event's data
        srv.add_user("admin1", "admin")
        tok = srv.login("admin1")
        case = srv.request("GET", "/api/v1/cases/%s" % sid, token=tok).json()
        assert case["channel"] == "open311" and case["street"]["code"] and case["unit"]

        token = srv.request("GET", "/open311/v2/tokens/%s.json" % sid).json()
        assert token == [{"service_request_id": sid, "token": sid}]

        x = ET.fromstring(srv.request("GET", "/open311/v2/requests/%s.xml" % sid).body)
        assert x.tag == "service_requests"
        rx = x.find("request")
        assert [c.tag for c in rx][:len(REQUEST_FIELDS)] == REQUEST_FIELDS
        assert rx.find("address_id").text is None and rx.find("service_request_id").text == sid


def test_post_errors_follow_the_spec():
    with Server() as srv:
        key = new_key(srv)
        cases = [
            ({"api_key": "wrong"}, 403),
            ({"api_key": ""}, 403),
            ({"service_code": ""}, 400),
            ({"service_code": "XX999"}, 404),
            ({"lat": "", "long": ""}, 400),            # no location at all
            ({"lat": "abc"}, 400),
            ({"description": "字" * 4001}, 400),       # characters, not bytes
            ({"description": "<b>bold</b>"}, 400),
            ({"attribute[part_state]": ""}, 400),      # required attribute missing
            ({"attribute[part_state]": "melted"}, 400),
            ({"media_url": "javascript:alert(1)"}, 400),
            ({"lat": 39.9, "long": 116.4}, 400),        # Beijing: outside the district
        ]
        for extra, status in cases:
            r = post_request(srv, key, **extra)
            assert r.status == status, (extra, r)
            err = r.json()
            assert isinstance(err, list) and err[0]["code"] == status and err[0]["description"], err
        ok = post_request(srv, key, description="字" * 4000)
        assert ok.status == 201, ok
        # an XML client gets XML errors
        r = form(srv, "/open311/v2/requests.xml", {"api_key": "nope", "service_code": "UP01001"})
        assert r.status == 403 and r.header("Content-Type") == XML_CT
        root = ET.fromstring(r.body)
        assert root.tag == "errors" and root.find("error/code").text == "403"
        # a revoked key stops working; nothing was stored by the refusals
        srv.cli("apikey", "revoke", "--name", "fixmystreet")
        assert post_request(srv, key).status == 403
        lst = srv.request("GET", "/open311/v2/requests.json").json()
        assert len(lst) == 1


def test_rate_limit_per_key():
    with Server() as srv:
        key = new_key(srv, "tiny", per_minute=2)
        assert post_request(srv, key).status == 201
        assert post_request(srv, key).status == 201
        r = post_request(srv, key)
        assert r.status == 429 and r.header("Retry-After") == "60", r


def test_list_filters_and_updates():
    with Server() as srv:
        key = new_key(srv)
        ids = [post_request(srv, key).json()[0]["service_request_id"] for _ in range(3)]
        srv.request("POST", "/api/v1/cases", {"description": "热线来电：噪音扰民", "lat": DONGMEN[0],
                                               "lng": DONGMEN[1]}, token=None)
        lst = srv.request("GET", "/open311/v2/requests.json").json()
        check("requests.json", lst)
        assert sorted(r["service_request_id"] for r in lst) == sorted(ids)
        assert srv.request("GET", "/open311/v2/requests.json?status=closed").json() == []
        assert len(srv.request("GET", "/open311/v2/requests.json?status=open,closed").json()) == 3
        assert len(srv.request("GET", "/open311/v2/requests.json?status=").json()) == 3  # empty = absent
        assert len(srv.request("GET", "/open311/v2/requests.json?service_code=H010101").json()) == 0
        two = srv.request("GET", "/open311/v2/requests.json?service_request_id=%s,%s" % (ids[0], ids[2])).json()
        assert sorted(r["service_request_id"] for r in two) == sorted([ids[0], ids[2]])
        page = srv.request("GET", "/open311/v2/requests.json?page_size=2&page=2").json()
        assert len(page) == 1
        assert srv.request("GET", "/open311/v2/requests.json?start_date=2026-01-01T00:00:00%2B08:00"
                                  "&end_date=2026-06-01T00:00:00%2B08:00").status == 400  # > 90 days
        assert srv.request("GET", "/open311/v2/requests.json?start_date=yesterday").status == 400
        assert srv.request("GET", "/open311/v2/requests.json?status=pending").status == 400
        ext = srv.request("GET", "/open311/v2/requests/%s.json?extensions=true" % ids[0]).json()[0]
        assert ext["extended_attributes"]["channel"] == "open311" and ext["notes"][0]["action"] == "report"

        # staff close the first; the client sees it closed and in the updates feed, and may reopen it
        srv.add_user("admin1", "admin")
        tok = srv.login("admin1")
        for body in ({"action": "register"}, {"action": "dispatch"}, {"action": "accept"},
                     {"action": "handle", "result": "已更换井盖"}, {"action": "verify", "passed": True},
                     {"action": "close"}):
            r = srv.request("POST", "/api/v1/cases/%s/actions" % ids[0], body, token=tok)
            assert r.status == 200, (body, r)
        closed = srv.request("GET", "/open311/v2/requests/%s.json" % ids[0]).json()[0]
        assert closed["status"] == "closed"
        updates = srv.request("GET", "/open311/v2/servicerequestupdates.json").json()
        mine = [u for u in updates if u["service_request_id"] == ids[0]]
        assert [u["status"] for u in mine][-1] == "FIXED" and all(isinstance(u["update_id"], str) for u in mine)
        ux = ET.fromstring(srv.request("GET", "/open311/v2/servicerequestupdates.xml").body)
        assert ux.tag == "service_request_updates" and ux.find("request_update/update_id") is not None

        r = form(srv, "/open311/v2/servicerequestupdates.json",
                 {"api_key": key, "service_request_id": ids[0], "status": "FIXED", "description": "x"})
        assert r.status == 400
        r = form(srv, "/open311/v2/servicerequestupdates.json",
                 {"api_key": key, "service_request_id": ids[0], "status": "REOPEN", "description": "井盖又坏了"})
        assert r.status == 200, r
        again = srv.request("GET", "/open311/v2/requests/%s.json" % ids[0]).json()[0]
        assert again["status"] == "open"


def test_openapi_document_is_valid():
    from openapi_spec_validator import validate
    with Server() as srv:
        r = srv.request("GET", "/api/v1/openapi.json")
        assert r.status == 200, r
        doc = r.json()
        validate(doc)  # OpenAPI 3.1 schema
        assert doc["openapi"] == "3.1.0"
        ops = {op["operationId"] for item in doc["paths"].values() for op in item.values()}
        assert {"cases_create", "cases_list", "cases_action", "scores", "stream"} <= ops
        assert doc["paths"]["/api/v1/cases/{id}"]["get"]["parameters"][0]["in"] == "path"


def test_clients_are_kept_apart_and_internal_notes_stay_internal():
    with Server() as srv:
        fms, other = new_key(srv, "fms"), new_key(srv, "other")
        a = post_request(srv, fms, **{"attribute[fixmystreet_id]": "42"}).json()[0]["service_request_id"]
        r = post_request(srv, other, service_code="H010101", description="路口交通事故",
                         **{"attribute[fixmystreet_id]": "42"})
        assert r.status == 201, r  # another client's id 42 is another request
        b = r.json()[0]["service_request_id"]
        assert a != b
        assert srv.request("GET", "/open311/v2/requests/%s.json" % b).json()[0]["service_code"] == "H010101"

        srv.add_user("admin1", "admin")
        tok = srv.login("admin1")
        steps = ({"action": "register"}, {"action": "supervise", "comment": "内部备注：举报人张三 13812345678 别告诉他"},
                 {"action": "dispatch"}, {"action": "accept"},
                 {"action": "handle", "result": "已修复", "comment": "已更换井盖，联系电话 13912345678"},
                 {"action": "verify", "passed": True}, {"action": "close"})
        for body in steps:
            r = srv.request("POST", "/api/v1/cases/%s/actions" % a, body, token=tok)
            assert r.status == 200, (body, r)
        published = (srv.request("GET", "/open311/v2/servicerequestupdates.json").body.decode() +
                     srv.request("GET", "/open311/v2/requests/%s.json?extensions=true" % a).body.decode())
        assert "内部备注" not in published and "13812345678" not in published
        assert "已更换井盖" in published and "13912345678" not in published and "139****5678" in published
        # only the client that filed a request may reopen it
        r = form(srv, "/open311/v2/servicerequestupdates.json",
                 {"api_key": other, "service_request_id": a, "status": "REOPEN"})
        assert r.status == 403, r
        assert srv.request("GET", "/open311/v2/requests/%s.json" % a).json()[0]["status"] == "closed"
