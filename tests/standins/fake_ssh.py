#!/usr/bin/env python3
"""Stand-in for ssh in the host-watch unit tests, honouring the part of its contract the watch uses:
`fake_ssh.py [-o OPTION]... HOST COMMAND...` exits 0 when HOST answers and 255 (ssh's code for a
connection that failed) when it does not. A host answers unless its name is a line of the file
$MLPS_FAKE_SSH_DOWN; each call sleeps $MLPS_FAKE_SSH_DELAY seconds and appends
"HOST START END" to $MLPS_FAKE_SSH_LOG, so a test can see which probes were in flight together.
"""

import os
import sys
import time


def main(argv):
    args = list(argv)
    while args and args[0] == "-o":
        args = args[2:]
    host = args[0] if args else ""
    start = time.time()
    time.sleep(float(os.environ.get("MLPS_FAKE_SSH_DELAY", "0")))
    down_file = os.environ.get("MLPS_FAKE_SSH_DOWN", "")
    down = set()
    if down_file and os.path.exists(down_file):
        with open(down_file) as handle:
            down = {line.strip() for line in handle if line.strip()}
    log = os.environ.get("MLPS_FAKE_SSH_LOG")
    if log:
        with open(log, "a") as handle:
            handle.write(f"{host} {start} {time.time()}\n")
    return 255 if host in down else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
