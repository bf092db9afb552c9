"""Runs integration scripts side by side and prints the closing line CI reads.

usage: runner.py [SCRIPT ...]   (JOBS=N parallel scripts, default 3)
Every script starts its own peers on free loopback ports in its own
temporary folder, so several can run at once; each one's output is
printed whole when it ends, so logs never interleave.
"""
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed


def run(path):
    start = time.time()
    p = subprocess.run([path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return path, p.returncode, p.stdout.decode(errors="replace"), time.time() - start


def main():
    scripts = sys.argv[1:]
    jobs = max(1, int(os.environ.get("JOBS", "3")))
    passed, failed = 0, []
    # The slowest first, so the tail of the run is short.
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run, s) for s in scripts]
        for f in as_completed(futures):
            path, rc, out, took = f.result()
            sys.stdout.write(out)
            if rc == 0:
                passed += 1
                print("ok %s (%ds)" % (path, took), flush=True)
            else:
                failed.append(path)
                print("FAIL %s (%ds, exit %d)" % (path, took, rc), flush=True)
    if failed:
        print("failed: " + " ".join(failed))
    print("integration: %d passed, %d failed" % (passed, len(failed)))
    return 1 if failed else 0


sys.exit(main())
