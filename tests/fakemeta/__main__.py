"""python -m tests.fakemeta --host 127.0.0.1 --port 8765 [--app-secret S]"""

import argparse
import signal
import sys
import threading

from tests.fakemeta import FakeMeta


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--app-secret", help="reject token calls with another client_secret")
    args = parser.parse_args()
    fake = FakeMeta.start(args.host, args.port, app_secret=args.app_secret)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"fakemeta ready {fake.base_url}", flush=True)
    stop.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
