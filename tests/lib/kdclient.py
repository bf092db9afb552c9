"""A small kinesisd socket client for the integration tests (stdlib only).

Not the client library (clients/python is): this one stays minimal and
explicit so that a test reads as the protocol it checks.
"""
import base64
import json
import select
import socket
import time


class Conn:
    def __init__(self, path, timeout=10.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""
        self.timeout = timeout

    def send(self, msg):
        self.s.sendall((json.dumps(msg) + "\n").encode())

    def send_raw(self, data):
        self.s.sendall(data)

    def recv(self, timeout=None):
        """The next message, or None on timeout / EOF."""
        end = time.time() + (self.timeout if timeout is None else timeout)
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                return None
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                return None
            chunk = self.s.recv(1 << 20)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, msg, timeout=None):
        """Sends msg (with its id) and returns the reply carrying that id;
        other messages met on the way are kept in self.other."""
        self.send(msg)
        self.other = getattr(self, "other", [])
        while True:
            m = self.recv(timeout)
            if m is None:
                raise TimeoutError("no reply to %r" % (msg,))
            if m.get("id") == msg.get("id"):
                return m
            self.other.append(m)

    def close(self):
        self.s.close()


def b64(data):
    return base64.b64encode(data).decode()
