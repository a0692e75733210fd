"""python -m tests.sandbox up|down|status|ssh [NAME] [-- COMMAND...]

A disposable systemd-booted Debian VPS on this machine; see docs/sandbox.md."""

import argparse
import os
import sys

from .harness import Sandbox


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sandbox", description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status", "ssh"])
    parser.add_argument("name", nargs="?", help="sandbox name (default: one per checkout, or $SANDBOX_NAME)")
    argv = sys.argv[1:]
    command = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if os.geteuid() != 0:
        parser.error("the sandbox needs root (namespaces, nspawn)")
    sandbox = Sandbox(args.name)
    if args.action == "up":
        sandbox.up()
    elif args.action == "down":
        sandbox.down()
    elif args.action == "status":
        return sandbox.status()
    else:
        state = sandbox.state()
        if not state:
            parser.error(f"{sandbox.name} is not up")
        os.execvp("ssh", sandbox.ssh_argv(state, *command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
