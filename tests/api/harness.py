"""Black-box test harness: starts the real citydesk binary on a free loopback port with a
fresh data directory, and speaks HTTP to it. Standard library only."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, os.environ.get("CITYDESK_BIN", "build/asan/citydesk"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


class Server:
    """One citydesk process with its own data directory; use as a context manager."""

    def __init__(self, extra_env=None, data_dir=None, iot=False):
        """iot=True runs the IoT side (a supervised Mosquitto, the GB/T 26875.3 listener) on
        free ports, in .mqtt_port and .gb_port; otherwise it is off (CITYDESK_IOT=off)."""
        self.data = data_dir or tempfile.mkdtemp(prefix="citydesk-test-")
        self.own_data = data_dir is None
        self.iot = iot
        self.mqtt_port = None
        self.gb_port = None
        self.port = None
        self.proc = None
        self.env = dict(os.environ)
        self.env.update(extra_env or {})
        self.log_path = os.path.join(self.data, "server.log")

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        if self.own_data:
            shutil.rmtree(self.data, ignore_errors=True)

    def cli(self, *args, stdin=None, check=True):
        """Runs `citydesk ARGS` against this data directory; returns CompletedProcess."""
        env = dict(self.env)
        env["CITYDESK_DATA"] = self.data
        p = subprocess.run([BIN] + list(args), input=stdin, capture_output=True, env=env,
                           cwd=ROOT, timeout=120, text=True)
        if check and p.returncode != 0:
            raise AssertionError("citydesk %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
        return p

    def start(self):
        self.port = free_port()
        env = dict(self.env)
        env["CITYDESK_DATA"] = self.data
        env["CITYDESK_LISTEN"] = "127.0.0.1:%d" % self.port
        if self.iot:
            if self.mqtt_port is None:  # kept across restarts, as a real deployment would
                self.mqtt_port = free_port()
                self.gb_port = free_port()
            env["CITYDESK_IOT"] = "on"
            env["CITYDESK_MQTT_LISTEN"] = "127.0.0.1:%d" % self.mqtt_port
            env["CITYDESK_GB26875_LISTEN"] = "127.0.0.1:%d" % self.gb_port
        else:
            env["CITYDESK_IOT"] = "off"
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BIN, "serve"], env=env, cwd=ROOT, stdout=self.logf,
                                     stderr=self.logf)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited with %d:\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                if self.request("GET", "/healthz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("server did not become healthy:\n" + self.log_tail())

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the server; returns its exit status."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.logf.close()
        return rc

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def request(self, method, path, body=None, token=None, headers=None, raw=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            h.setdefault("Content-Type", "application/json")
        if token:
            h["Authorization"] = "Bearer " + token
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        resp = Response(r.status, r.getheaders(), r.read())
        conn.close()
        return resp

    def add_user(self, username, role, password="password-123", street=None, unit=None):
        args = ["user", "add", "--username", username, "--role", role, "--password-stdin"]
        if street:
            args += ["--street", street]
        if unit:
            args += ["--unit", unit]
        self.cli(*args, stdin=password + "\n")

    def login(self, username, password="password-123"):
        r = self.request("POST", "/api/v1/sessions", {"username": username, "password": password})
        assert r.status == 201 or r.status == 200, r
        return r.json()["token"]


def expect_error(resp, status, code=None, field=None):
    """Asserts resp is an error of the documented shape with this status (and code, field)."""
    assert resp.status == status, "want %d, got %r" % (status, resp)
    ct = resp.header("Content-Type") or ""
    assert ct.startswith("application/json"), ct
    err = resp.json()["error"]
    assert set(err.keys()) == {"code", "message", "field"}, err
    assert isinstance(err["message"], str) and err["message"], err
    if code is not None:
        assert err["code"] == code, err
    if field is not None:
        assert err["field"] == field, err
    return err
