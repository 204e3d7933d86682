"""Nothing a device was told is stored is lost across kill -9: 16 clients post telemetry over
HTTP (each 202 means "on disk"), the server is killed while they post, restarted, and every
acknowledged reading is found in the device's time series (the hub's journal replays what the
stores had not written). The same for an ingest batch's 202."""
import json
import signal
import threading
import time

import test_devices as td
from harness import Server


def test_kill_9_loses_no_acknowledged_device_message():
    s = Server()
    s.start()
    try:
        s.add_user("admin", "admin")
        tok = s.login("admin")
        devs = []
        for k in range(4):
            d = td.create(s, tok, id="pump-%d" % k, type="hydrant_pressure", lat=td.DONGMEN[0], lng=td.DONGMEN[1])
            devs.append((d["id"], d["secret"]))
        base = int(time.time() * 1000) - 3600 * 1000
        acked = {}
        lock = threading.Lock()
        stop = threading.Event()

        def client(t):
            dev, secret = devs[t % 4]
            h = td.basic(dev, secret)
            h["Content-Type"] = "application/json"
            i = 0
            while not stop.is_set():
                ts = base + t * 10_000_000 + i * 1000
                try:
                    r = s.request("POST", "/api/v1/devices/%s/telemetry" % dev,
                                  raw=json.dumps({"ts": ts, "values": {"pressure_mpa": i}}).encode(), headers=h,
                                  timeout=10)
                except Exception:
                    return  # the server is gone
                if r.status == 202:
                    with lock:
                        acked.setdefault(dev, []).append(ts)
                i += 1

        threads = [threading.Thread(target=client, args=(t,)) for t in range(16)]
        for x in threads:
            x.start()
        deadline = time.time() + 60
        while time.time() < deadline and sum(len(v) for v in acked.values()) < 1500:
            time.sleep(0.05)
        s.proc.send_signal(signal.SIGKILL)
        stop.set()
        for x in threads:
            x.join()
        s.stop()
        total = sum(len(v) for v in acked.values())
        assert total >= 1500, "only %d acknowledged before the kill" % total

        s.start()
        tok = s.login("admin")
        missing = []
        deadline = time.time() + 60
        while True:  # the replay goes through the hub's worker and the series writer
            missing = []
            for dev, stamps in acked.items():
                got = set()
                for t in range(16):
                    lo, hi = base + t * 10_000_000, base + (t + 1) * 10_000_000
                    r = s.request("GET", "/api/v1/devices/%s/series?metric=pressure_mpa&from=%d&to=%d&step=raw"
                                         "&limit=10000" % (dev, lo, hi), token=tok)
                    assert r.status == 200, r
                    got.update(p["ts_ms"] for p in r.json()["points"])
                missing += [(dev, ts) for ts in stamps if ts not in got]
            if not missing or time.time() > deadline:
                break
            time.sleep(1)
        assert not missing, "%d of %d acknowledged readings lost, e.g. %s" % (len(missing), total, missing[:3])
        print("  %d acknowledged readings, all found after kill -9 and restart" % total)
    finally:
        s.stop()
