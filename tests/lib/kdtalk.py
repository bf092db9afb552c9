"""Send stdin to a kinesisd socket, print what comes back.

usage: kdtalk.py SOCKET [QUIET_SECONDS]
Stops when the daemon closes the connection or says nothing for
QUIET_SECONDS after the last byte was sent.
"""
import socket
import sys

path = sys.argv[1]
quiet = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
s.sendall(sys.stdin.buffer.read())
s.settimeout(quiet)
out = sys.stdout.buffer
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out.write(b)
except (socket.timeout, ConnectionResetError):
    pass
out.flush()
