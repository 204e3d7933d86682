"""The session cache (api/common.c) never outlives a revocation: a logged-out token fails on the
very next request, other sessions keep working, and a user disabled by the CLI while the server
runs (another process, so only the cache's 1 s lifetime can notice) is refused within it."""
import time

from harness import Server, expect_error


def test_logout_is_seen_at_once_by_a_warm_cache():
    with Server() as s:
        s.add_user("disp1", "district_dispatcher")
        a = s.login("disp1")
        b = s.login("disp1")
        for _ in range(3):  # warm both entries
            assert s.request("GET", "/api/v1/sessions/current", token=a).status == 200
            assert s.request("GET", "/api/v1/cases?page_size=1", token=b).status == 200
        assert s.request("DELETE", "/api/v1/sessions/current", token=a).status == 204
        expect_error(s.request("GET", "/api/v1/sessions/current", token=a), 401, "invalid_token")
        expect_error(s.request("GET", "/api/v1/cases?page_size=1", token=a), 401, "invalid_token")
        # The other session of the same user is untouched.
        me = s.request("GET", "/api/v1/sessions/current", token=b)
        assert me.status == 200 and me.json()["user"]["username"] == "disp1", me
        # Logging out twice: the second is refused, not answered from a stale entry.
        expect_error(s.request("DELETE", "/api/v1/sessions/current", token=a), 401, "invalid_token")


def test_cli_disable_while_serving_is_seen_within_the_cache_lifetime():
    with Server() as s:
        s.add_user("disp2", "district_dispatcher")
        t = s.login("disp2")
        assert s.request("GET", "/api/v1/sessions/current", token=t).status == 200
        s.cli("user", "disable", "--username", "disp2")
        deadline = time.time() + 3.0  # the cache keeps an entry at most 1 s
        while time.time() < deadline:
            if s.request("GET", "/api/v1/sessions/current", token=t).status == 401:
                break
            time.sleep(0.05)
        expect_error(s.request("GET", "/api/v1/sessions/current", token=t), 401, "invalid_token")
        s.cli("user", "enable", "--username", "disp2")
        # Disabling revoked the session: enabling the user does not bring the old token back.
        time.sleep(1.2)
        expect_error(s.request("GET", "/api/v1/sessions/current", token=t), 401, "invalid_token")
        assert s.request("GET", "/api/v1/sessions/current", token=s.login("disp2")).status == 200
