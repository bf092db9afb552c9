"""A stand-in for systemd's notify socket: prints each datagram received.

usage: notify_listen.py PATH SECONDS
Binds a datagram socket at PATH and prints every message (one line per
state, e.g. READY=1) for SECONDS, then exits.
"""
import socket
import sys
import time

path, limit = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
end = time.time() + limit
while time.time() < end:
    s.settimeout(max(0.05, end - time.time()))
    try:
        data = s.recv(4096)
    except socket.timeout:
        continue
    for line in data.decode().splitlines():
        print(line, flush=True)
