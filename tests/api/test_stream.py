"""Black-box tests of GET /api/v1/stream (Server-Sent Events of case events): authentication,
the frame format, scope per role, Last-Event-ID replay and resync, many consoles at once, and
a server stop with streams open. While the route is not wired yet (the server answers 404),
each test prints a SKIP line and returns; any other status is tested for real."""
import json
import socket
import time

from harness import Server, expect_error

DONGMEN = (22.548, 114.118)  # street 440303003 (东门)
STREAM = "/api/v1/stream"


class Sse:
    """A raw SSE client: sends the GET, decodes the chunked body, splits it into frames."""

    def __init__(self, port, token=None, last_id=None, path=STREAM):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        h = "GET %s HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n" % path
        if token:
            h += "Authorization: Bearer %s\r\n" % token
        if last_id is not None:
            h += "Last-Event-ID: %s\r\n" % last_id
        self.sock.sendall((h + "\r\n").encode())
        self.raw = b""
        self.text = ""
        self.frames = []
        self.closed = False
        while b"\r\n\r\n" not in self.raw:
            self._recv()
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self._decode()

    def _recv(self):
        data = self.sock.recv(65536)
        if not data:
            self.closed = True
            raise EOFError("server closed the stream")
        self.raw += data

    def _decode(self):
        if not self.chunked:
            self.text += self.raw.decode("utf-8")
            self.raw = b""
        while self.chunked and b"\r\n" in self.raw:
            size_line, rest = self.raw.split(b"\r\n", 1)
            size = int(size_line, 16)
            if size == 0:
                self.closed = True
                self.raw = b""
                break
            if len(rest) < size + 2:
                break
            self.text += rest[:size].decode("utf-8")
            self.raw = rest[size + 2:]
        while "\n\n" in self.text:
            block, self.text = self.text.split("\n\n", 1)
            f = {"comments": [], "data": []}
            for line in block.split("\n"):
                if line.startswith(":"):
                    f["comments"].append(line[1:].strip())
                elif ":" in line:
                    k, v = line.split(":", 1)
                    v = v[1:] if v.startswith(" ") else v
                    if k == "data":
                        f["data"].append(v)
                    else:
                        f[k] = v
            f["data"] = "\n".join(f["data"]) if f["data"] else None
            self.frames.append(f)

    def events(self):
        return [f for f in self.frames if f.get("event")]

    def wait(self, pred, timeout=10):
        """Reads until pred(self) is true; returns True, or False on timeout."""
        end = time.time() + timeout
        while not pred(self):
            if time.time() > end:
                return False
            self.sock.settimeout(max(0.05, end - time.time()))
            try:
                self._recv()
            except socket.timeout:
                return pred(self)
            self._decode()
        return True

    def case_events(self, ref):
        out = []
        for f in self.events():
            if f["event"].startswith("case.") and f["data"]:
                d = json.loads(f["data"])
                if d.get("id") == ref:
                    out.append((f["event"], d, int(f["id"])))
        return out

    def close(self):
        self.sock.close()


def wired(s, token):
    """False (after printing SKIP) while the route answers 404. A plain request would wait on a
    wired stream forever, so this reads the status line only."""
    c = Sse(s.port, token)
    st = c.status
    c.close()
    if st == 404:
        print("SKIP test_stream.py: GET /api/v1/stream answers 404 (route not wired yet; see the events "
              "report: routes.c, app.h, serve.c)")
        return False
    return True


def setup_people(s):
    s.add_user("admin", "admin")
    s.add_user("disp", "district_dispatcher")
    s.add_user("dongmen", "street_dispatcher", street="440303003")
    s.add_user("guiyuan", "street_dispatcher", street="440303001")
    s.add_user("aud", "auditor")
    s.add_user("res1", "citizen")
    s.add_user("res2", "citizen")
    return {u: s.login(u) for u in ("admin", "disp", "dongmen", "guiyuan", "aud", "res1", "res2")}


def new_case(s, tok, **kw):
    body = {"description": "东门老街路口井盖缺失，很危险", "lat": DONGMEN[0], "lng": DONGMEN[1]}
    body.update(kw)
    r = s.request("POST", "/api/v1/cases", body, token=tok)
    assert r.status == 201, r
    return r.json()["id"]


def test_stream_needs_a_token_and_speaks_sse():
    with Server() as s:
        t = setup_people(s)
        if not wired(s, t["admin"]):
            return
        expect_error(s.request("GET", STREAM), 401)
        expect_error(s.request("GET", STREAM, token="not-a-token"), 401)
        expect_error(s.request("GET", STREAM + "?last_event_id=abc", token=t["admin"]), 422, field="last_event_id")
        c = Sse(s.port, t["admin"])
        assert c.status == 200, c.status
        assert c.headers["content-type"].startswith("text/event-stream"), c.headers
        assert c.headers.get("cache-control") == "no-store", c.headers
        assert c.chunked, c.headers
        assert c.wait(lambda x: len(x.frames) >= 1)
        first = c.frames[0]
        assert first.get("retry") == "3000" and "connected" in first["comments"], first
        ref = new_case(s, t["disp"], category="UM06010")
        assert c.wait(lambda x: x.case_events(ref)), c.frames
        ev, data, eid = c.case_events(ref)[0]
        assert ev == "case.created", ev
        assert data["status"] == "reported" and data["street"] == "440303003", data
        assert eid > 0
        # personal data never travels on the stream
        assert "reporter" not in data and "phone" not in json.dumps(data), data
        c.close()
        assert s.request("GET", "/healthz").status == 200


def test_scope_per_role():
    with Server() as s:
        t = setup_people(s)
        if not wired(s, t["admin"]):
            return
        who = ("admin", "disp", "aud", "dongmen", "guiyuan", "res1", "res2")
        c = {u: Sse(s.port, t[u]) for u in who}
        ref = new_case(s, t["res1"], category="UM06010")  # a citizen's report in 东门
        sees = {"admin": True, "disp": True, "aud": True, "dongmen": True, "guiyuan": False, "res1": True,
                "res2": False}
        for u in who:
            if sees[u]:
                assert c[u].wait(lambda x: x.case_events(ref)), (u, c[u].frames)
        # the admin has it, so the others had it delivered too by now; give stragglers a moment
        time.sleep(0.3)
        for u in who:
            c[u].wait(lambda x: False, timeout=0.2)
            assert bool(c[u].case_events(ref)) == sees[u], (u, c[u].frames)
        # a workflow step reaches the street's dispatcher with the new status
        r = s.request("POST", "/api/v1/cases/%s/actions" % ref, {"action": "register"}, token=t["dongmen"])
        assert r.status == 200, r
        assert c["dongmen"].wait(lambda x: any(d["status"] == "registered" for _, d, _ in x.case_events(ref))), \
            c["dongmen"].frames
        ev = [e for e, d, _ in c["dongmen"].case_events(ref) if d["status"] == "registered"][0]
        assert ev == "case.registered", ev
        for u in who:
            c[u].close()


def test_last_event_id_replays_what_was_missed():
    with Server() as s:
        t = setup_people(s)
        if not wired(s, t["admin"]):
            return
        c = Sse(s.port, t["dongmen"])
        first = new_case(s, t["disp"])
        assert c.wait(lambda x: x.case_events(first))
        seen = c.case_events(first)[-1][2]
        c.close()
        missed = [new_case(s, t["disp"]) for _ in range(3)]
        time.sleep(0.2)
        c2 = Sse(s.port, t["dongmen"], last_id=seen)
        assert c2.wait(lambda x: all(x.case_events(r) for r in missed)), c2.frames
        got = [f["id"] for f in c2.events() if f["event"] == "case.created"]
        ids = [c2.case_events(r)[0][2] for r in missed]
        assert ids == sorted(ids) and all(i > seen for i in ids), (seen, ids)
        assert not c2.case_events(first), "already seen: not replayed"
        assert got[:3] == [str(i) for i in ids], got
        c2.close()
        # an id the server cannot replay from (an earlier process, garbage): resync
        c3 = Sse(s.port, t["dongmen"], last_id=1)
        assert c3.wait(lambda x: any(f.get("event") == "resync" for f in x.frames)), c3.frames
        c3.close()


def test_many_consoles_and_a_stop_with_streams_open():
    with Server() as s:
        t = setup_people(s)
        if not wired(s, t["admin"]):
            return
        consoles = [Sse(s.port, t["admin"]) for _ in range(50)]
        ref = new_case(s, t["disp"])
        for c in consoles:
            assert c.wait(lambda x: x.case_events(ref)), c.frames
        assert s.request("GET", "/healthz").status == 200
        for c in consoles[:25]:
            c.close()
        t0 = time.time()
        rc = s.stop()
        took = time.time() - t0
        assert rc == 0, rc
        print("  stop with 25 streams open: %.2f s" % took)
        for c in consoles[25:]:
            try:
                c.wait(lambda x: x.closed, timeout=5)
            except EOFError:
                pass
            assert c.closed, "the stream ended when the server stopped"
            c.close()
