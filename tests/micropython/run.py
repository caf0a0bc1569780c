"""Runs plain `def test_*()` modules inside MicroPython.

micropython run.py CORE_DIR TESTS_DIR MODULE [MODULE ...]
Prints each failure with its traceback and each skip with its reason, then
`N passed, N failed` (`N passed, N skipped, N failed` when some skipped);
exits 1 on any failure. pytest drives this (tests/test_micropython.py).
"""

import gc
import sys


def main():
    args = sys.argv[1:]
    sys.path.insert(0, args[1])
    sys.path.insert(0, args[0])
    passed = failed = skipped = 0
    for name in args[2:]:
        mod = __import__(name)
        for attr in sorted(dir(mod)):
            if not attr.startswith("test_"):
                continue
            gc.collect()
            try:
                getattr(mod, attr)()
                passed += 1
            except Exception as e:
                if type(e).__name__ == "Skip":  # tests/core/check.py skip()
                    skipped += 1
                    print("SKIP %s.%s: %s" % (name, attr, e.args[0] if e.args else ""))
                    continue
                failed += 1
                print("FAIL %s.%s" % (name, attr))
                sys.print_exception(e)
    print("%d passed, %s%d failed" % (passed, "%d skipped, " % skipped if skipped else "", failed))
    sys.exit(1 if failed else 0)


main()
