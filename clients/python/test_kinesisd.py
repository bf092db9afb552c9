"""Tests of kinesisd.py against a fake daemon written here: a listening
Unix socket in a temporary folder, scripted line by line.  Standard library
only; run with ``python3 -m unittest clients/python/test_kinesisd.py``
(tests/integration/t_client_python.sh does, before the live checks)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import queue
import socket
import sys
import tempfile
import threading
import time
import unittest
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kinesisd import (AsyncConsumer, AsyncProducer, ConnectionLost,  # noqa: E402
                      Consumer, ConsumerFailure, ErrorEvent, Producer,
                      PutFailed, PutResult, Reconnected, Record, Refused,
                      ShardStarted, Shutdown, ShuttingDown, Timeout,
                      UnknownEvent)


class FakeConn:
    """The daemon's end of one connection."""

    def __init__(self, s: socket.socket) -> None:
        self.s = s
        self.buf = b""

    def recv(self, timeout: float = 5.0) -> dict[str, Any] | None:
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                chunk = self.s.recv(65536)
            except (socket.timeout, OSError):
                return None
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def send(self, msg: dict[str, Any] | bytes) -> None:
        data = msg if isinstance(msg, bytes) else json.dumps(msg).encode() + b"\n"
        self.s.sendall(data)

    def close(self) -> None:
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.s.close()


def hello_reply(conn: FakeConn, m: dict[str, Any]) -> None:
    assert m["op"] == "hello", m
    conn.send({"op": "hello", "id": m["id"], "version": 1,
               "server": "fake/1", "producers": ["p", "q"],
               "consumers": ["c"]})


class FakeDaemon:
    """Accepts connections; each one is greeted by handshake (default:
    answer hello) in the accept thread, then queued for the test."""

    def __init__(self, path: str,
                 handshake: Callable[[FakeConn], None] | None = None) -> None:
        self.path = path
        self.handshake = handshake or (lambda c: hello_reply(c, c.recv()))
        self.conns: queue.Queue[FakeConn] = queue.Queue()
        self.handshakes: list[dict[str, Any]] = []
        self.listen()

    def listen(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        threading.Thread(target=self._accept, args=(self.sock,),
                         daemon=True).start()

    def _accept(self, lsock: socket.socket) -> None:
        while True:
            try:
                s, _ = lsock.accept()
            except OSError:
                return
            c = FakeConn(s)
            try:
                self.handshake(c)
            except Exception as e:  # the test sees no connection
                print("handshake:", e, file=sys.stderr)
                continue
            self.conns.put(c)

    def conn(self, timeout: float = 5.0) -> FakeConn:
        return self.conns.get(timeout=timeout)

    def stop(self) -> None:
        """Stops listening and removes the socket (a daemon gone)."""
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def consumer_handshake(daemon_subs: list[dict[str, Any]]):
    def hs(c: FakeConn) -> None:
        hello_reply(c, c.recv())
        m = c.recv()
        assert m is not None and m["op"] == "subscribe", m
        daemon_subs.append(m)
        c.send({"op": "subscribed", "id": m["id"], "consumer": m["consumer"]})
    return hs


def record(seq: str, data: bytes, shard: str = "s-0", key: str = "k") -> dict[str, Any]:
    return {"op": "record", "consumer": "c", "shard": shard, "seq": seq,
            "subseq": 0, "key": key, "data": base64.b64encode(data).decode(),
            "ts": 1700000000000}


class Base(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="kdpy.")
        self.path = os.path.join(self.dir.name, "kd.sock")

    def tearDown(self) -> None:
        self.dir.cleanup()


class ProducerTest(Base):
    def setUp(self) -> None:
        super().setUp()
        self.d = FakeDaemon(self.path)
        self.errors: list[Refused] = []
        self.p = Producer(self.path, producer="p", on_error=self.errors.append)
        self.c = self.d.conn()

    def tearDown(self) -> None:
        self.p.close()
        self.d.stop()
        super().tearDown()

    def test_put_lines_and_results(self) -> None:
        self.assertEqual(self.p.server, "fake/1")
        self.assertEqual(self.p.producers, ["p", "q"])
        f1 = self.p.put_async("k1", b"\x00\xffbin")
        f2 = self.p.put_async("k\u00e9", "text \u20ac", ehk=2**128 - 1,
                              producer="q")
        m1, m2 = self.c.recv(), self.c.recv()
        self.assertEqual(m1["producer"], "p")
        self.assertEqual(base64.b64decode(m1["data"]), b"\x00\xffbin")
        self.assertNotIn("text", m1)
        self.assertEqual(m2["producer"], "q")
        self.assertEqual(m2["key"], "k\u00e9")
        self.assertEqual(m2["text"], "text \u20ac")
        self.assertEqual(m2["ehk"], str(2**128 - 1))
        # answered out of order, one line split byte by byte
        self.c.send({"op": "put_failed", "id": m2["id"], "error": "expired",
                     "message": "RecordTtl"})
        line = json.dumps({"op": "put_ok", "id": m1["id"], "shard": "s-1",
                           "seq": "42", "subseq": 3}).encode() + b"\n"
        for i in range(len(line)):
            self.c.send(line[i:i + 1])
        self.assertEqual(f1.result(5), PutResult("s-1", "42", 3))
        with self.assertRaises(PutFailed) as cm:
            f2.result(5)
        self.assertEqual((cm.exception.error, cm.exception.message),
                         ("expired", "RecordTtl"))
        self.assertEqual(self.p.outstanding, 0)

    def test_blocking_put_refused_and_timeout(self) -> None:
        def daemon() -> None:
            m = self.c.recv()
            self.c.send({"op": "error", "id": m["id"], "error": "too_large",
                         "message": "data and key exceed 1 MiB"})
            m = self.c.recv()
            self.c.send({"op": "error", "id": m["id"],
                         "error": "shutting_down", "message": "bye"})
            m = self.c.recv()  # never answered
            m = self.c.recv()
            self.c.send({"op": "put_ok", "id": m["id"], "shard": "s",
                         "seq": "1", "subseq": 0})
        t = threading.Thread(target=daemon)
        t.start()
        with self.assertRaises(Refused) as cm:
            self.p.put("k", b"x" * 10)
        self.assertEqual(cm.exception.code, "too_large")
        with self.assertRaises(ShuttingDown):
            self.p.put("k", b"x")
        with self.assertRaises(Timeout) as tm:
            self.p.put("k", b"x", timeout=0.2)
        self.assertIsInstance(tm.exception, TimeoutError)
        self.assertEqual(self.p.put("k", b"x").seq, "1")
        t.join()

    def test_local_checks(self) -> None:
        with self.assertRaises(Refused) as cm:
            self.p.put_forget("k", b"x", producer="nope")
        self.assertEqual(cm.exception.code, "unknown_producer")
        for key in ("", "k" * 257, 5):
            with self.assertRaises(ValueError):
                self.p.put_forget(key, b"x")  # type: ignore[arg-type]
        with self.assertRaises(ValueError):
            self.p.put_forget("k", b"x", ehk=2**128)
        with self.assertRaises(TypeError):
            self.p.put_forget("k", 5)  # type: ignore[arg-type]
        self.p.put_forget("k" * 256, b"")
        self.assertEqual(len(self.c.recv()["key"]), 256)

    def test_fire_and_forget_flush_and_refusal(self) -> None:
        for i in range(100):
            self.p.put_forget(f"k{i}", b"d")
        self.p.put_forget("bad", b"d")
        done = threading.Event()
        threading.Thread(target=lambda: (self.p.flush(5), done.set())).start()
        seen = [self.c.recv() for _ in range(102)]
        self.assertTrue(all("id" not in m for m in seen[:101]))
        self.assertEqual(seen[101]["op"], "flush")
        self.assertEqual(seen[101]["producer"], "p")
        self.c.send({"op": "error", "error": "bad_request",
                     "message": "key is bad"})
        self.c.send({"op": "flushed", "id": seen[101]["id"]})
        self.assertTrue(done.wait(5))
        self.assertEqual(len(self.errors), 1)
        self.assertEqual(self.errors[0].code, "bad_request")

    def test_connection_lost_then_reconnect(self) -> None:
        fut = self.p.put_async("k", b"x")
        self.assertIsNotNone(self.c.recv())
        self.c.close()  # the daemon dies with the put outstanding
        with self.assertRaises(ConnectionLost):
            fut.result(5)
        # the next put connects again (hello again) and works
        fut = self.p.put_async("k2", b"y")
        c2 = self.d.conn()
        m = c2.recv()
        self.assertEqual(m["key"], "k2")
        c2.send({"op": "put_ok", "id": m["id"], "shard": "s", "seq": "7",
                 "subseq": 0})
        self.assertEqual(fut.result(5).seq, "7")

    def test_no_daemon(self) -> None:
        self.d.stop()
        self.c.close()
        time.sleep(0.1)
        p = None
        t0 = time.monotonic()
        with self.assertRaises(ConnectionLost) as cm:
            p = Producer(self.path, producer="p", connect_timeout=0.3)
        self.assertIn(self.path, str(cm.exception))
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)
        self.assertIsNone(p)


class ConsumerTest(Base):
    def setUp(self) -> None:
        super().setUp()
        self.subs: list[dict[str, Any]] = []
        self.d = FakeDaemon(self.path, consumer_handshake(self.subs))

    def tearDown(self) -> None:
        self.d.stop()
        super().tearDown()

    def test_records_events_acks(self) -> None:
        with Consumer("c", self.path, max_in_flight=5) as con:
            self.assertEqual(self.subs[0]["max_in_flight"], 5)
            c = self.d.conn()
            big = bytes(range(256)) * 4096
            c.send(b"".join(json.dumps(m).encode() + b"\n" for m in [
                {"op": "shard_started", "consumer": "c", "shard": "s-0"},
                record("1", b"one"),
                record("2", big),
                {"op": "consumer_failure", "consumer": "c", "shard": "s-0",
                 "failed": [{"seq": "2", "subseq": 0}]},
                {"op": "shutdown", "reason": "SIGTERM"},
                {"op": "error", "error": "not_subscribed", "message": "x"},
                {"op": "future_op"},
            ]))
            items = [con.get(5) for _ in range(7)]
            self.assertEqual(items[0], ShardStarted("c", "s-0"))
            r1, r2 = items[1], items[2]
            assert isinstance(r1, Record) and isinstance(r2, Record)
            self.assertEqual((r1.shard, r1.seq, r1.text, r1.ts),
                             ("s-0", "1", "one", 1700000000000))
            self.assertEqual(r2.data, big)
            self.assertEqual(items[3], ConsumerFailure("c", "s-0", (("2", 0),)))
            self.assertEqual(items[4], Shutdown("SIGTERM"))
            self.assertIsInstance(items[5], ErrorEvent)
            self.assertEqual(items[5].exception().code, "not_subscribed")
            self.assertIsInstance(items[6], UnknownEvent)
            self.assertIsNone(con.get(0.05))
            r1.ack()
            r1.ack()  # once only
            r2.skip()
            a1, a2 = c.recv(), c.recv()
            self.assertEqual(a1, {"op": "ack", "consumer": "c", "shard": "s-0",
                                  "seq": "1", "subseq": 0})
            self.assertIs(a2["ok"], False)
            con_thread_items: list[Any] = []

            def close_soon() -> None:
                m = c.recv()  # the unsubscribe
                con_thread_items.append(m)
                c.send({"op": "unsubscribed", "id": m["id"], "consumer": "c"})
            t = threading.Thread(target=close_soon)
            t.start()
        t.join()
        self.assertEqual(con_thread_items[0]["op"], "unsubscribe")

    def test_on_event_and_reconnect(self) -> None:
        events: list[Any] = []
        con = Consumer("c", self.path, on_event=events.append)
        c = self.d.conn()
        c.send(record("1", b"one"))
        c.send({"op": "shard_started", "consumer": "c", "shard": "s-0"})
        c.send(record("2", b"two"))
        r1 = con.get(5)
        self.assertIsInstance(r1, Record)
        r2 = con.get(5)
        self.assertEqual(r2.seq, "2")
        self.assertEqual(events, [ShardStarted("c", "s-0")])
        c.close()  # the daemon restarts
        c2 = None

        def later() -> None:
            nonlocal c2
            c2 = self.d.conn(10)
            c2.send(record("1", b"one again"))
        t = threading.Thread(target=later)
        t.start()
        r = con.get(10)  # reconnects, subscribes again, goes on
        t.join()
        self.assertEqual(r.text, "one again")
        self.assertIsInstance(events[-1], Reconnected)
        self.assertEqual(len(self.subs), 2)
        r1.ack()  # of the old connection: dropped
        r.ack()
        self.assertEqual(c2.recv()["seq"], "1")
        self.assertIsNone(c2.recv(0.2))
        con._closed = True  # no unsubscribe round trip needed here
        con.close()

    def test_unknown_consumer(self) -> None:
        self.d.handshake = lambda c: (hello_reply(c, c.recv()), self._refuse(c))
        with self.assertRaises(Refused) as cm:
            Consumer("nope", self.path)
        self.assertEqual(cm.exception.code, "unknown_consumer")

    @staticmethod
    def _refuse(c: FakeConn) -> None:
        m = c.recv()
        c.send({"op": "error", "id": m["id"], "error": "unknown_consumer",
                "message": "no consumer named 'nope'"})


class AsyncTest(Base):
    def test_async_producer_and_consumer(self) -> None:
        subs: list[dict[str, Any]] = []
        plain = FakeDaemon(self.path)

        async def main() -> None:
            p = AsyncProducer(self.path, producer="p")
            task = asyncio.ensure_future(p.connect())
            c = await asyncio.to_thread(plain.conn)
            await task

            async def daemon() -> None:
                for _ in range(3):
                    m = await asyncio.to_thread(c.recv)
                    if m["op"] == "put" and "id" in m:
                        c.send({"op": "put_ok", "id": m["id"], "shard": "s",
                                "seq": m["key"], "subseq": 0})
                    elif m["op"] == "flush":
                        c.send({"op": "flushed", "id": m["id"]})
            dt = asyncio.ensure_future(daemon())
            r = await asyncio.gather(p.put("a", b"1"), p.put("b", "2"))
            self.assertEqual([x.seq for x in r], ["a", "b"])
            await p.put_forget("c", b"3")
            await dt
            c.close()
            with self.assertRaises(ConnectionLost):
                fut = await p._conn.request({"op": "ping"})  # type: ignore
                await fut
            await p.close()

        asyncio.run(asyncio.wait_for(main(), 20))
        plain.stop()

        cons = FakeDaemon(self.path, consumer_handshake(subs))

        async def consume() -> None:
            con = AsyncConsumer("c", self.path, max_in_flight=2)
            task = asyncio.ensure_future(con.connect())
            c = await asyncio.to_thread(cons.conn)
            await task
            c.send(record("1", b"one"))
            item = await con.get(5)
            self.assertIsInstance(item, Record)
            item.ack()
            self.assertEqual((await asyncio.to_thread(c.recv))["op"], "ack")
            c.close()
            later = asyncio.ensure_future(asyncio.to_thread(cons.conn, 10))
            item = await con.get(10)
            self.assertIsInstance(item, Reconnected)
            c2 = await later
            c2.send(record("1", b"again"))
            item = await con.get(5)
            self.assertEqual(item.text, "again")
            self.assertEqual(len(subs), 2)
            self.assertEqual(subs[1]["max_in_flight"], 2)
            con._closed = True
            await con.close()

        asyncio.run(asyncio.wait_for(consume(), 30))
        cons.stop()


if __name__ == "__main__":
    unittest.main()
