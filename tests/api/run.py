"""Runs every test_* function in tests/api/test_*.py and prints "api: N passed, N failed"."""
import importlib.util
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main(argv):
    only = argv[1:]
    passed = failed = 0
    for name in sorted(os.listdir(HERE)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(HERE, name))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for fname in sorted(dir(mod)):
            if not fname.startswith("test_"):
                continue
            full = "%s::%s" % (name, fname)
            if only and not any(o in full for o in only):
                continue
            t0 = time.time()
            try:
                getattr(mod, fname)()
            except Exception:
                failed += 1
                print("FAIL %s (%.1fs)" % (full, time.time() - t0))
                traceback.print_exc()
            else:
                passed += 1
                print("ok   %s (%.1fs)" % (full, time.time() - t0))
            sys.stdout.flush()
    print("api: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
