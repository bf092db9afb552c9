"""kinesisd — the Python client of kinesisd, the Kinesis KPL/KCL sidecar.

Standard library only (Python 3.11+), one module: put ``clients/python``
on ``PYTHONPATH`` or copy this file next to your code.  The daemon speaks
NDJSON over a Unix socket (docs/protocol.md); this module speaks it for
you.  The socket is ``socket=`` if given, else ``$KINESISD_SOCKET``, else
``/run/kinesisd/kinesisd.sock``.

Producing (the KPL's job)::

    from kinesisd import Producer, PutFailed

    with Producer(producer="demo-producer") as p:
        r = p.put("user-42", b"payload")        # waits until Kinesis has it
        print(r.shard, r.seq, r.subseq)
        p.put_forget("user-42", "fire and forget")   # no result
        fut = p.put_async("user-43", b"...")    # a concurrent.futures.Future
        p.flush()                               # every put answered

Consuming (the KCL's job)::

    from kinesisd import Consumer, Record, ConsumerFailure

    with Consumer("demo-consumer") as c:
        for item in c:                  # records and shard events, in order
            if isinstance(item, Record):
                handle(item.data)
                item.ack()              # or item.skip(): processed, not used
            elif isinstance(item, ConsumerFailure):
                alert(item.shard, item.failed)

``AsyncProducer`` and ``AsyncConsumer`` do the same on asyncio.

Errors are exceptions: ``PutFailed`` (Kinesis refused the record after the
daemon's retries, or RecordTtl expired: ``.error``, ``.message``),
``Refused`` (the daemon refused a request: ``.code`` such as
``unknown_producer``; ``ShuttingDown`` when it is stopping),
``ConnectionLost`` (no daemon to talk to), ``Timeout``; all derive from
``KinesisdError``.

Reconnecting, when the daemon restarts:

- Producers reconnect on the next call (trying for ``connect_timeout``
  seconds).  A put whose result was outstanding when the connection
  dropped fails with ``ConnectionLost``: the record may or may not be in
  the stream, so the library does not guess; retry it if duplicates are
  acceptable.  A put whose line could not be written at all is sent once
  more on the new connection (the daemon drops an unfinished line).
- Consumers reconnect at once and subscribe again, yielding a
  ``Reconnected`` event.  Records delivered on the old connection and not
  acked come again (from the last checkpoint: at least once); ``ack()`` on
  a record of the old connection does nothing.

Threads: a ``Producer`` may be used from many threads.  Iterate a
``Consumer`` from one thread; ``Record.ack()`` may be called from any.
``Async*`` objects belong to the event loop that connected them.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import dataclasses
import inspect
import itertools
import json
import logging
import os
import queue
import socket as _socket
import threading
import time
from typing import Any, AsyncIterator, Callable, ClassVar, Iterator, Union

__all__ = [
    "DEFAULT_SOCKET",
    "SOCKET_ENV",
    "KinesisdError",
    "ConnectionLost",
    "Refused",
    "ShuttingDown",
    "PutFailed",
    "Timeout",
    "PutResult",
    "Record",
    "Event",
    "ShardEvent",
    "ShardStarted",
    "ShardLost",
    "ShardEnded",
    "ConsumerFailure",
    "ConsumerShutdown",
    "Shutdown",
    "ErrorEvent",
    "Reconnected",
    "UnknownEvent",
    "Producer",
    "Consumer",
    "AsyncProducer",
    "AsyncConsumer",
]

__version__ = "0.1.0"

DEFAULT_SOCKET = "/run/kinesisd/kinesisd.sock"
SOCKET_ENV = "KINESISD_SOCKET"
MAX_KEY_CHARS = 256
_MAX_LINE = 64 << 20  # a record message is at most ~1.4 MB
_CLIENT = f"kinesisd.py/{__version__}"

log = logging.getLogger("kinesisd")

# ---- exceptions ------------------------------------------------------------


class KinesisdError(Exception):
    """Base of every error this module raises."""


class ConnectionLost(KinesisdError):
    """No connection to the daemon: it closed, or cannot be reached."""


class Refused(KinesisdError):
    """The daemon refused a request (an ``error`` message).

    ``code`` is its stable code (``bad_request``, ``unknown_producer``,
    ``unknown_consumer``, ``too_large``, ``not_subscribed``,
    ``shutting_down``, ...), ``message`` says what was wrong.
    """

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


class ShuttingDown(Refused):
    """Refused because the daemon is shutting down (``shutting_down``)."""


class PutFailed(KinesisdError):
    """A ``put_failed`` result: Kinesis did not take the record.

    ``error`` is the AWS error code (``ResourceNotFoundException``,
    ``ProvisionedThroughputExceededException``, ...), ``expired``
    (RecordTtl passed) or ``shutting_down``; ``message`` the detail.
    """

    def __init__(self, error: str, message: str = "") -> None:
        super().__init__(f"{error}: {message}" if message else error)
        self.error = error
        self.message = message


class Timeout(KinesisdError, TimeoutError):
    """No answer within the timeout given."""


# ---- results and events ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PutResult:
    """Where Kinesis put a record: its shard, sequence number, and index
    inside the KPL aggregate (0 when sent as is)."""

    shard: str
    seq: str
    subseq: int


class Record:
    """One user record delivered to a consumer.  Call ``ack()`` once it
    is processed, or ``skip()`` to mark it processed-but-skipped; the
    daemon checkpoints the acked prefix of each shard."""

    __slots__ = ("consumer", "shard", "seq", "subseq", "key", "data", "ts",
                 "ehk", "_conn", "_done")

    def __init__(self, msg: dict[str, Any], conn: Any) -> None:
        self.consumer: str = str(msg.get("consumer", ""))
        self.shard: str = str(msg.get("shard", ""))
        self.seq: str = str(msg.get("seq", ""))
        self.subseq: int = int(msg.get("subseq") or 0)
        self.key: str = str(msg.get("key", ""))
        self.data: bytes = base64.b64decode(msg.get("data") or "")
        self.ts: int = int(msg.get("ts") or 0)
        self.ehk: str | None = msg.get("ehk")
        self._conn = conn
        self._done = False

    @property
    def text(self) -> str:
        """The data decoded as UTF-8."""
        return self.data.decode("utf-8")

    def ack(self) -> None:
        """Processed: the daemon may checkpoint past this record.  A second
        ack or skip, or an ack after the connection it came on was lost,
        does nothing (the record is then delivered again)."""
        self._finish(True)

    def skip(self) -> None:
        """Processed but skipped (``ok: false``): logged by the daemon and
        still checkpointed, as reactive-kinesis's ``successful = false``."""
        self._finish(False)

    def _finish(self, ok: bool) -> None:
        if self._done:
            return
        self._done = True
        msg: dict[str, Any] = {"op": "ack", "consumer": self.consumer,
                               "shard": self.shard, "seq": self.seq,
                               "subseq": self.subseq}
        if not ok:
            msg["ok"] = False
        self._conn.send_ack(msg)

    def __repr__(self) -> str:
        return (f"Record(consumer={self.consumer!r}, shard={self.shard!r}, "
                f"seq={self.seq!r}, subseq={self.subseq}, key={self.key!r}, "
                f"data={self.data[:40]!r}{'...' if len(self.data) > 40 else ''})")


@dataclasses.dataclass(frozen=True)
class Event:
    """Base of what a consumer yields besides records."""

    op: ClassVar[str] = ""


@dataclasses.dataclass(frozen=True)
class ShardEvent(Event):
    """An event about one shard of one consumer."""

    consumer: str
    shard: str


@dataclasses.dataclass(frozen=True)
class ShardStarted(ShardEvent):
    """This connection now receives the shard's records."""

    op: ClassVar[str] = "shard_started"


@dataclasses.dataclass(frozen=True)
class ShardLost(ShardEvent):
    """The lease went to another worker: its unacked records are processed
    there; acks for it are ignored."""

    op: ClassVar[str] = "shard_lost"


@dataclasses.dataclass(frozen=True)
class ShardEnded(ShardEvent):
    """The shard was closed by resharding, fully processed and
    checkpointed at SHARD_END."""

    op: ClassVar[str] = "shard_ended"


@dataclasses.dataclass(frozen=True)
class ConsumerFailure(ShardEvent):
    """After retries the batch stayed above failureTolerancePercentage:
    processing of the shard stopped on this daemon (reactive-kinesis's
    ConsumerWorkerFailure).  ``failed``: (seq, subseq) of each record."""

    failed: tuple[tuple[str, int], ...] = ()
    op: ClassVar[str] = "consumer_failure"


@dataclasses.dataclass(frozen=True)
class ConsumerShutdown(ShardEvent):
    """Processing of the shard stopped gracefully (ConsumerShutdown)."""

    op: ClassVar[str] = "consumer_shutdown"


@dataclasses.dataclass(frozen=True)
class Shutdown(Event):
    """The daemon is shutting down; the connection closes soon after."""

    reason: str
    op: ClassVar[str] = "shutdown"


@dataclasses.dataclass(frozen=True)
class ErrorEvent(Event):
    """The daemon refused something no call waits for: a fire-and-forget
    put, or an ack.  ``exception()`` gives it as a ``Refused``."""

    code: str
    message: str
    op: ClassVar[str] = "error"

    def exception(self) -> Refused:
        """This refusal as an exception."""
        cls = ShuttingDown if self.code == "shutting_down" else Refused
        return cls(self.code, self.message)


@dataclasses.dataclass(frozen=True)
class Reconnected(Event):
    """The library connected again and subscribed again after the
    connection was lost; unacked records will come again."""

    consumer: str
    op: ClassVar[str] = "reconnected"


@dataclasses.dataclass(frozen=True)
class UnknownEvent(Event):
    """A message this module does not know (from a newer daemon)."""

    name: str
    message: dict[str, Any] = dataclasses.field(default_factory=dict,
                                                compare=False)


Item = Union[Record, Event]

# ---- the wire ---------------------------------------------------------------

_REPLY_OP = {
    "put": "put_ok",
    "flush": "flushed",
    "subscribe": "subscribed",
    "unsubscribe": "unsubscribed",
    "hello": "hello",
    "ping": "pong",
}


def _socket_path(path: str | None) -> str:
    return path or os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET


def _encode(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, separators=(",", ":")).encode("ascii") + b"\n"


def _put_msg(producer: str | None, key: str, data: bytes | str,
             ehk: int | str | None) -> dict[str, Any]:
    if not producer or not isinstance(producer, str):
        raise ValueError("no producer: give Producer(producer=...) or "
                         "producer= to the call")
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_CHARS:
        raise ValueError(f"key must be a str of 1 to {MAX_KEY_CHARS} "
                         "characters")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError("key is not valid Unicode text") from e
    msg: dict[str, Any] = {"op": "put", "producer": producer, "key": key}
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError("data is not valid Unicode text") from e
        msg["text"] = data
    elif isinstance(data, (bytes, bytearray, memoryview)):
        msg["data"] = base64.b64encode(data).decode("ascii")
    else:
        raise TypeError("data must be bytes or str, not "
                        f"{type(data).__name__}")
    if ehk is not None:
        value = int(ehk) if isinstance(ehk, int) or str(ehk).isdigit() else -1
        if isinstance(ehk, bool) or not 0 <= value < 1 << 128:
            raise ValueError("ehk must be an integer from 0 to 2**128 - 1")
        msg["ehk"] = str(value)
    return msg


def _refused(msg: dict[str, Any]) -> Refused:
    code = str(msg.get("error") or "unknown")
    cls = ShuttingDown if code == "shutting_down" else Refused
    return cls(code, str(msg.get("message") or ""))


def _reply_outcome(kind: str, msg: dict[str, Any]) -> tuple[Any, BaseException | None]:
    """(result, None) or (None, exception) for the reply msg to a request
    of op kind."""
    op = msg.get("op")
    if op == "error":
        return None, _refused(msg)
    if op == "put_failed" and kind == "put":
        return None, PutFailed(str(msg.get("error") or "unknown"),
                               str(msg.get("message") or ""))
    if op != _REPLY_OP.get(kind):
        return None, KinesisdError(f"unexpected reply {op!r} to {kind!r}")
    if kind == "put":
        return PutResult(str(msg.get("shard", "")), str(msg.get("seq", "")),
                         int(msg.get("subseq") or 0)), None
    return msg, None


def _event(msg: dict[str, Any], conn: Any) -> Item:
    """The record or event object for an unsolicited message."""
    op = msg.get("op")
    consumer, shard = str(msg.get("consumer", "")), str(msg.get("shard", ""))
    if op == "record":
        return Record(msg, conn)
    if op == "shard_started":
        return ShardStarted(consumer, shard)
    if op == "shard_lost":
        return ShardLost(consumer, shard)
    if op == "shard_ended":
        return ShardEnded(consumer, shard)
    if op == "consumer_shutdown":
        return ConsumerShutdown(consumer, shard)
    if op == "consumer_failure":
        failed = tuple((str(f.get("seq", "")), int(f.get("subseq") or 0))
                       for f in msg.get("failed") or () if isinstance(f, dict))
        return ConsumerFailure(consumer, shard, failed)
    if op == "shutdown":
        return Shutdown(str(msg.get("reason", "")))
    if op == "error":
        return ErrorEvent(str(msg.get("error") or "unknown"),
                          str(msg.get("message") or ""))
    return UnknownEvent(str(op), msg)


def _parse_line(line: bytes) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        msg = json.loads(line)
    except ValueError:
        log.warning("kinesisd: skipped a line that is not JSON: %.80r", line)
        return None
    if not isinstance(msg, dict) or not isinstance(msg.get("op"), str):
        log.warning("kinesisd: skipped a line without an op: %.80r", line)
        return None
    return msg


def _reply_id(msg: dict[str, Any]) -> int | None:
    rid = msg.get("id")
    return rid if isinstance(rid, int) and not isinstance(rid, bool) else None


# ---- blocking: one connection and its reader thread -------------------------

class _Conn:
    """One socket to the daemon, written under a lock by any thread and
    read by its own thread, which completes futures by id and passes the
    other messages to on_message.  Once lost it stays lost."""

    def __init__(self, path: str,
                 on_message: Callable[[dict[str, Any], _Conn], None],
                 on_lost: Callable[[_Conn], None]) -> None:
        self.alive = True
        self.why = ""
        self._sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            self._sock.connect(path)
        except BaseException:
            self._sock.close()
            raise
        self._on_message = on_message
        self._on_lost = on_lost
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[str, concurrent.futures.Future[Any]]] = {}
        self._ids = itertools.count(1)
        self._reader = threading.Thread(target=self._read_loop,
                                        name="kinesisd-reader", daemon=True)
        self._reader.start()

    def send(self, msg: dict[str, Any]) -> None:
        """Writes msg; blocks while the daemon does not read
        (back-pressure).  ConnectionLost when the connection is gone."""
        line = _encode(msg)
        with self._send_lock:
            if not self.alive:
                raise ConnectionLost(self.why)
            try:
                self._sock.sendall(line)
            except OSError as e:
                self._lost(f"write: {e.strerror or e}")
                raise ConnectionLost(self.why) from e

    def send_ack(self, msg: dict[str, Any]) -> None:
        if not self.alive:
            return  # the record comes again on the next connection
        try:
            self.send(msg)
        except ConnectionLost:
            pass

    def request(self, msg: dict[str, Any]) -> concurrent.futures.Future[Any]:
        """Sends msg with a new id; the future gets the reply's outcome."""
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        kind = msg["op"]
        with self._lock:
            if not self.alive:
                raise ConnectionLost(self.why)
            rid = next(self._ids)
            self._pending[rid] = (kind, fut)
        try:
            self.send(dict(msg, id=rid))
        except ConnectionLost:
            with self._lock:
                self._pending.pop(rid, None)
            raise
        return fut

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _read_loop(self) -> None:
        buf = bytearray()
        why = "kinesisd closed the connection"
        try:
            while True:
                chunk = self._sock.recv(1 << 20)
                if not chunk:
                    break
                buf += chunk
                start = 0
                while (nl := buf.find(b"\n", start)) >= 0:
                    self._dispatch(bytes(buf[start:nl]))
                    start = nl + 1
                del buf[:start]
                if len(buf) > _MAX_LINE:
                    why = "a line from kinesisd is too long"
                    break
        except OSError as e:
            why = f"read: {e.strerror or e}"
        self._lost(why)
        self._sock.close()

    def _dispatch(self, line: bytes) -> None:
        msg = _parse_line(line)
        if msg is None:
            return
        rid = _reply_id(msg)
        if rid is not None:
            with self._lock:
                entry = self._pending.pop(rid, None)
            if entry is not None:
                result, exc = _reply_outcome(entry[0], msg)
                _settle(entry[1], result, exc)
                return
        try:
            self._on_message(msg, self)
        except Exception:  # a handler's bug must not kill the reader
            log.exception("kinesisd: message handler failed")

    def _lost(self, why: str) -> None:
        with self._lock:
            if not self.alive:
                return
            self.alive = False
            self.why = why
            pending, self._pending = self._pending, {}
        try:
            self._sock.shutdown(_socket.SHUT_RDWR)  # wakes the reader
        except OSError:
            pass
        for _, fut in pending.values():
            _settle(fut, None, ConnectionLost(why))
        self._on_lost(self)

    def close(self) -> None:
        self._lost("closed by the application")
        if threading.current_thread() is not self._reader:
            self._reader.join(5)


def _settle(fut: concurrent.futures.Future[Any], result: Any,
            exc: BaseException | None) -> None:
    try:
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)
    except concurrent.futures.InvalidStateError:
        pass  # cancelled by the application


def _wait(fut: concurrent.futures.Future[Any], timeout: float | None,
          what: str) -> Any:
    try:
        return fut.result(timeout)
    except concurrent.futures.TimeoutError:
        raise Timeout(f"{what}: no answer from kinesisd within "
                      f"{timeout} s") from None


class _Client:
    """What Producer and Consumer share: the socket path, connecting with
    retries, hello, and reconnecting."""

    def __init__(self, socket: str | None, connect_timeout: float,
                 reconnect: bool, client_name: str) -> None:
        self.path = _socket_path(socket)
        self.connect_timeout = connect_timeout
        self.reconnect = reconnect
        self.client_name = client_name
        self.server: str = ""
        self.producers: list[str] = []
        self.consumers: list[str] = []
        self._conn: _Conn | None = None
        self._conn_lock = threading.RLock()
        self._closed = False

    def _connection(self) -> _Conn:
        conn = self._conn
        if conn is not None and conn.alive:
            return conn
        with self._conn_lock:
            if self._closed:
                raise KinesisdError("closed")
            conn = self._conn
            if conn is not None and conn.alive:
                return conn
            if conn is not None and not self.reconnect:
                raise ConnectionLost(conn.why)
            self._conn = self._open(self.connect_timeout)
            return self._conn

    def _open(self, timeout: float | None) -> _Conn:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.05
        while True:
            try:
                conn = _Conn(self.path, self._on_message, self._on_lost)
                break
            except (FileNotFoundError, ConnectionRefusedError) as e:
                left = None if deadline is None else deadline - time.monotonic()
                if self._closed:
                    raise ConnectionLost("closed by the application") from e
                if left is not None and left <= 0:
                    raise ConnectionLost(
                        f"cannot connect to {self.path}: {e.strerror} (is "
                        f"kinesisd running? ${SOCKET_ENV} or socket= choose "
                        "another socket)") from e
                time.sleep(delay if left is None else min(delay, left))
                delay = min(delay * 2, 1.0)
            except OSError as e:
                raise ConnectionLost(f"cannot connect to {self.path}: "
                                     f"{e.strerror or e}") from e
        try:
            hello = _wait(conn.request({"op": "hello",
                                        "client": self.client_name,
                                        "version": 1}), 30, "hello")
            self.server = str(hello.get("server", ""))
            self.producers = list(hello.get("producers") or [])
            self.consumers = list(hello.get("consumers") or [])
            self._after_connect(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _after_connect(self, conn: _Conn) -> None:
        """Runs on every new connection, after hello."""

    def _on_message(self, msg: dict[str, Any], conn: _Conn) -> None:
        raise NotImplementedError

    def _on_lost(self, conn: _Conn) -> None:
        if not self._closed and conn is self._conn:
            log.warning("kinesisd: connection lost: %s", conn.why)

    def ping(self, timeout: float | None = 10.0) -> None:
        """Raises unless the daemon answers within timeout seconds."""
        _wait(self._connection().request({"op": "ping"}), timeout, "ping")

    def close(self) -> None:
        """Closes the connection; the object cannot be used after."""
        with self._conn_lock:
            self._closed = True
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Producer(_Client):
    """Puts records through kinesisd's producer ``producer`` (a name from
    its configuration).  Thread-safe.

    ``on_error`` is called (in the reader thread) with a ``Refused`` for
    each refusal no call waits for (a fire-and-forget put with a bad key);
    without it they are logged.
    """

    def __init__(self, socket: str | None = None, producer: str | None = None,
                 *, connect_timeout: float = 30.0, reconnect: bool = True,
                 on_error: Callable[[Refused], None] | None = None,
                 client_name: str = _CLIENT) -> None:
        super().__init__(socket, connect_timeout, reconnect, client_name)
        self.producer = producer
        self.on_error = on_error
        self.shutdown_reason: str | None = None
        self._connection()

    def _after_connect(self, conn: _Conn) -> None:
        self.shutdown_reason = None
        if self.producer is not None:
            self._check(self.producer)

    def _check(self, name: str) -> None:
        if self.producers and name not in self.producers:
            raise Refused("unknown_producer",
                          f"no producer named {name!r} in kinesisd's "
                          f"configuration (it has {', '.join(self.producers)})")

    def _message(self, key: str, data: bytes | str, ehk: int | str | None,
                 producer: str | None) -> dict[str, Any]:
        msg = _put_msg(producer or self.producer, key, data, ehk)
        self._check(msg["producer"])
        return msg

    def _on_message(self, msg: dict[str, Any], conn: _Conn) -> None:
        ev = _event(msg, conn)
        if isinstance(ev, ErrorEvent):
            if self.on_error is not None:
                self.on_error(ev.exception())
            else:
                log.warning("kinesisd refused a request: %s: %s", ev.code,
                            ev.message)
        elif isinstance(ev, Shutdown):
            self.shutdown_reason = ev.reason
            log.info("kinesisd is shutting down: %s", ev.reason)

    def put_async(self, key: str, data: bytes | str, *,
                  ehk: int | str | None = None,
                  producer: str | None = None
                  ) -> concurrent.futures.Future[PutResult]:
        """Sends one record and returns a future of its ``PutResult``
        (or ``PutFailed``, ``Refused``, ``ConnectionLost``).  ``data``:
        bytes, or str sent as UTF-8 text.  ``ehk``: an explicit hash key
        that picks the shard instead of the key's MD5.  Blocks only while
        the daemon applies back-pressure."""
        msg = self._message(key, data, ehk, producer)
        conn = self._connection()
        try:
            return conn.request(msg)
        except ConnectionLost:
            if not self.reconnect:
                raise
            return self._connection().request(msg)  # never written: again

    def put(self, key: str, data: bytes | str, *,
            ehk: int | str | None = None, producer: str | None = None,
            timeout: float | None = None) -> PutResult:
        """Sends one record and waits until Kinesis has it: its
        ``PutResult``.  Raises ``PutFailed``, ``Refused``,
        ``ConnectionLost`` or ``Timeout``."""
        return _wait(self.put_async(key, data, ehk=ehk, producer=producer),
                     timeout, "put")

    def put_forget(self, key: str, data: bytes | str, *,
                   ehk: int | str | None = None,
                   producer: str | None = None) -> None:
        """Fire and forget: sends one record without asking for its result
        (counted in the daemon's metrics; refusals go to on_error)."""
        msg = self._message(key, data, ehk, producer)
        conn = self._connection()
        try:
            conn.send(msg)
        except ConnectionLost:
            if not self.reconnect:
                raise
            self._connection().send(msg)

    def flush(self, timeout: float | None = None,
              producer: str | None = None) -> None:
        """Waits until every put sent before on this connection has its
        result (and every future is done).  ``producer``: only that one;
        default: this producer's, or all when it has none."""
        msg: dict[str, Any] = {"op": "flush"}
        if producer or self.producer:
            msg["producer"] = producer or self.producer
        _wait(self._connection().request(msg), timeout, "flush")

    @property
    def outstanding(self) -> int:
        """Puts with a result (and other requests) not answered yet."""
        conn = self._conn
        return conn.pending() if conn is not None and conn.alive else 0


_LOST = object()
_CLOSE = object()


class Consumer(_Client):
    """Receives the records of kinesisd's consumer ``consumer`` (a name
    from its configuration): subscribes on creation, yields ``Record``
    objects and shard events (``ShardStarted``, ``ShardLost``,
    ``ShardEnded``, ``ConsumerFailure``, ``ConsumerShutdown``,
    ``Shutdown``, ``ErrorEvent``, ``Reconnected``).

    With ``on_event``, events go to that callback (in the iterating
    thread) and iteration yields records only.  ``max_in_flight`` bounds
    the records delivered and not acked (the daemon's default: 1000).
    After a lost connection it reconnects for up to ``reconnect_timeout``
    seconds (None: until it works), then raises ``ConnectionLost``.
    """

    def __init__(self, consumer: str, socket: str | None = None, *,
                 max_in_flight: int | None = None,
                 on_event: Callable[[Event], None] | None = None,
                 connect_timeout: float = 30.0, reconnect: bool = True,
                 reconnect_timeout: float | None = None,
                 client_name: str = _CLIENT) -> None:
        super().__init__(socket, connect_timeout, reconnect, client_name)
        if not consumer or not isinstance(consumer, str):
            raise ValueError("consumer must be a non-empty str")
        self.consumer = consumer
        self.max_in_flight = max_in_flight
        self.on_event = on_event
        self.reconnect_timeout = reconnect_timeout
        self._queue: queue.SimpleQueue[tuple[_Conn | None, Any]] = \
            queue.SimpleQueue()
        self._connection()

    def _after_connect(self, conn: _Conn) -> None:
        msg: dict[str, Any] = {"op": "subscribe", "consumer": self.consumer}
        if self.max_in_flight is not None:
            msg["max_in_flight"] = self.max_in_flight
        _wait(conn.request(msg), 30, "subscribe")

    def _on_message(self, msg: dict[str, Any], conn: _Conn) -> None:
        self._queue.put((conn, msg))

    def _on_lost(self, conn: _Conn) -> None:
        super()._on_lost(conn)
        self._queue.put((conn, _LOST))

    def get(self, timeout: float | None = None) -> Item | None:
        """The next record or event; None after timeout seconds with
        nothing, or once closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                conn, msg = self._queue.get(timeout=left)
            except queue.Empty:
                return None
            if msg is _CLOSE or self._closed:
                return None
            if msg is _LOST:
                if conn is not self._conn:
                    continue  # an older connection's
                if not self.reconnect:
                    raise ConnectionLost(conn.why if conn else "")
                self._reconnect_loop()
                item = self._deliver(Reconnected(self.consumer))
            elif conn is not None and not conn.alive and msg.get("op") == "record":
                continue  # comes again on the new connection
            else:
                item = self._deliver(_event(msg, conn))
            if item is not None:
                return item

    def _deliver(self, item: Item) -> Item | None:
        if isinstance(item, Event) and self.on_event is not None:
            self.on_event(item)
            return None
        return item

    def _reconnect_loop(self) -> None:
        deadline = (None if self.reconnect_timeout is None
                    else time.monotonic() + self.reconnect_timeout)
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            try:
                with self._conn_lock:
                    if self._closed:
                        return
                    self._conn = self._open(left if left is None
                                            else max(left, 0.0))
                log.info("kinesisd: reconnected to %s, subscribed to %s",
                         self.path, self.consumer)
                return
            except ConnectionLost:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
            except Refused as e:  # e.g. shutting_down while restarting
                log.warning("kinesisd: subscribe after reconnect: %s", e)
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                time.sleep(1)

    def __iter__(self) -> Iterator[Item]:
        while True:
            item = self.get()
            if item is None:
                return
            yield item

    def close(self) -> None:
        """Unsubscribes (the daemon gives unacked records to another
        subscriber) and closes; a blocked iteration ends."""
        conn = self._conn
        if conn is not None and conn.alive and not self._closed:
            try:
                _wait(conn.request({"op": "unsubscribe",
                                    "consumer": self.consumer}), 5,
                      "unsubscribe")
            except KinesisdError:
                pass
        super().close()
        self._queue.put((None, _CLOSE))


# ---- asyncio ------------------------------------------------------------------

class _AsyncConn:
    """The asyncio twin of _Conn: a reader task instead of a thread."""

    def __init__(self, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter,
                 on_message: Callable[[dict[str, Any], _AsyncConn], None],
                 on_lost: Callable[[_AsyncConn], None]) -> None:
        self.alive = True
        self.why = ""
        self._reader = reader
        self._writer = writer
        self._on_message = on_message
        self._on_lost = on_lost
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._ids = itertools.count(1)
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def open(cls, path: str,
                   on_message: Callable[[dict[str, Any], _AsyncConn], None],
                   on_lost: Callable[[_AsyncConn], None]) -> _AsyncConn:
        reader, writer = await asyncio.open_unix_connection(path,
                                                            limit=_MAX_LINE)
        return cls(reader, writer, on_message, on_lost)

    def write(self, msg: dict[str, Any]) -> None:
        if not self.alive:
            raise ConnectionLost(self.why)
        self._writer.write(_encode(msg))

    async def send(self, msg: dict[str, Any]) -> None:
        """Writes msg and waits while the daemon does not read."""
        self.write(msg)
        try:
            await self._writer.drain()
        except (ConnectionError, OSError) as e:
            self._lost(f"write: {e}")
            raise ConnectionLost(self.why) from e

    def send_ack(self, msg: dict[str, Any]) -> None:
        if self.alive:
            self._writer.write(_encode(msg))

    async def request(self, msg: dict[str, Any]) -> asyncio.Future[Any]:
        if not self.alive:
            raise ConnectionLost(self.why)
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(_retrieve)
        self._pending[rid] = (msg["op"], fut)
        try:
            await self.send(dict(msg, id=rid))
        except ConnectionLost:
            self._pending.pop(rid, None)
            raise
        return fut

    def pending(self) -> int:
        return len(self._pending)

    async def _read_loop(self) -> None:
        why = "kinesisd closed the connection"
        try:
            while True:
                line = await self._reader.readline()
                if not line.endswith(b"\n"):
                    break  # EOF (an unfinished line is dropped)
                msg = _parse_line(line)
                if msg is None:
                    continue
                rid = _reply_id(msg)
                entry = self._pending.pop(rid, None) if rid is not None else None
                if entry is not None:
                    result, exc = _reply_outcome(entry[0], msg)
                    if not entry[1].done():
                        if exc is not None:
                            entry[1].set_exception(exc)
                        else:
                            entry[1].set_result(result)
                    continue
                try:
                    self._on_message(msg, self)
                except Exception:
                    log.exception("kinesisd: message handler failed")
        except (ConnectionError, OSError) as e:
            why = f"read: {e}"
        except ValueError:
            why = "a line from kinesisd is too long"
        except asyncio.CancelledError:
            why = "closed by the application"
        self._lost(why)

    def _lost(self, why: str) -> None:
        if not self.alive:
            return
        self.alive = False
        self.why = why
        pending, self._pending = self._pending, {}
        self._writer.close()
        for _, fut in pending.values():
            if not fut.done():
                fut.set_exception(ConnectionLost(why))
        self._on_lost(self)

    async def close(self) -> None:
        self._lost("closed by the application")
        if self._task is not asyncio.current_task():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass


def _retrieve(fut: asyncio.Future[Any]) -> None:
    """Marks an outcome as seen: a request whose caller gave up (timeout)
    may still fail later."""
    if not fut.cancelled():
        fut.exception()


async def _await(fut: asyncio.Future[Any], timeout: float | None,
                 what: str) -> Any:
    try:
        return await asyncio.wait_for(asyncio.shield(fut), timeout)
    except asyncio.TimeoutError:
        raise Timeout(f"{what}: no answer from kinesisd within "
                      f"{timeout} s") from None


class _AsyncClient:
    """What AsyncProducer and AsyncConsumer share."""

    def __init__(self, socket: str | None, connect_timeout: float,
                 reconnect: bool, client_name: str) -> None:
        self.path = _socket_path(socket)
        self.connect_timeout = connect_timeout
        self.reconnect = reconnect
        self.client_name = client_name
        self.server: str = ""
        self.producers: list[str] = []
        self.consumers: list[str] = []
        self._conn: _AsyncConn | None = None
        self._conn_lock: asyncio.Lock | None = None
        self._closed = False

    async def connect(self) -> None:
        """Connects (trying for connect_timeout seconds) unless connected."""
        await self._connection()

    async def _connection(self) -> _AsyncConn:
        conn = self._conn
        if conn is not None and conn.alive:
            return conn
        if self._conn_lock is None:
            self._conn_lock = asyncio.Lock()
        async with self._conn_lock:
            if self._closed:
                raise KinesisdError("closed")
            conn = self._conn
            if conn is not None and conn.alive:
                return conn
            if conn is not None and not self.reconnect:
                raise ConnectionLost(conn.why)
            self._conn = await self._open(self.connect_timeout)
            return self._conn

    async def _open(self, timeout: float | None) -> _AsyncConn:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        delay = 0.05
        while True:
            try:
                conn = await _AsyncConn.open(self.path, self._on_message,
                                             self._on_lost)
                break
            except (FileNotFoundError, ConnectionRefusedError) as e:
                left = None if deadline is None else deadline - loop.time()
                if self._closed:
                    raise ConnectionLost("closed by the application") from e
                if left is not None and left <= 0:
                    raise ConnectionLost(
                        f"cannot connect to {self.path}: {e.strerror} (is "
                        f"kinesisd running? ${SOCKET_ENV} or socket= choose "
                        "another socket)") from e
                await asyncio.sleep(delay if left is None else min(delay, left))
                delay = min(delay * 2, 1.0)
            except OSError as e:
                raise ConnectionLost(f"cannot connect to {self.path}: "
                                     f"{e.strerror or e}") from e
        try:
            hello = await _await(await conn.request(
                {"op": "hello", "client": self.client_name, "version": 1}),
                30, "hello")
            self.server = str(hello.get("server", ""))
            self.producers = list(hello.get("producers") or [])
            self.consumers = list(hello.get("consumers") or [])
            await self._after_connect(conn)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _after_connect(self, conn: _AsyncConn) -> None:
        """Runs on every new connection, after hello."""

    def _on_message(self, msg: dict[str, Any], conn: _AsyncConn) -> None:
        raise NotImplementedError

    def _on_lost(self, conn: _AsyncConn) -> None:
        if not self._closed and conn is self._conn:
            log.warning("kinesisd: connection lost: %s", conn.why)

    async def ping(self, timeout: float | None = 10.0) -> None:
        """Raises unless the daemon answers within timeout seconds."""
        conn = await self._connection()
        await _await(await conn.request({"op": "ping"}), timeout, "ping")

    async def close(self) -> None:
        """Closes the connection; the object cannot be used after."""
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def __aenter__(self) -> Any:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncProducer(_AsyncClient):
    """``Producer`` on asyncio: ``await put(...)``, ``await
    put_forget(...)``, ``await flush()``.  Connects on ``async with`` or
    the first call.  Many puts at once: ``asyncio.gather(*(p.put(k, d)
    ...))``."""

    def __init__(self, socket: str | None = None, producer: str | None = None,
                 *, connect_timeout: float = 30.0, reconnect: bool = True,
                 on_error: Callable[[Refused], None] | None = None,
                 client_name: str = _CLIENT) -> None:
        super().__init__(socket, connect_timeout, reconnect, client_name)
        self.producer = producer
        self.on_error = on_error
        self.shutdown_reason: str | None = None

    async def _after_connect(self, conn: _AsyncConn) -> None:
        self.shutdown_reason = None
        if self.producer is not None:
            self._check(self.producer)

    _check = Producer._check

    def _on_message(self, msg: dict[str, Any], conn: _AsyncConn) -> None:
        ev = _event(msg, conn)
        if isinstance(ev, ErrorEvent):
            if self.on_error is not None:
                self.on_error(ev.exception())
            else:
                log.warning("kinesisd refused a request: %s: %s", ev.code,
                            ev.message)
        elif isinstance(ev, Shutdown):
            self.shutdown_reason = ev.reason

    async def _message(self, key: str, data: bytes | str,
                       ehk: int | str | None,
                       producer: str | None) -> tuple[_AsyncConn, dict[str, Any]]:
        msg = _put_msg(producer or self.producer, key, data, ehk)
        conn = await self._connection()
        self._check(msg["producer"])
        return conn, msg

    async def put(self, key: str, data: bytes | str, *,
                  ehk: int | str | None = None, producer: str | None = None,
                  timeout: float | None = None) -> PutResult:
        """Sends one record and waits until Kinesis has it (see
        ``Producer.put``)."""
        conn, msg = await self._message(key, data, ehk, producer)
        try:
            fut = await conn.request(msg)
        except ConnectionLost:
            if not self.reconnect:
                raise
            fut = await (await self._connection()).request(msg)
        return await _await(fut, timeout, "put")

    async def put_forget(self, key: str, data: bytes | str, *,
                         ehk: int | str | None = None,
                         producer: str | None = None) -> None:
        """Fire and forget (see ``Producer.put_forget``); returns once the
        line is written, waiting while the daemon applies back-pressure."""
        conn, msg = await self._message(key, data, ehk, producer)
        try:
            await conn.send(msg)
        except ConnectionLost:
            if not self.reconnect:
                raise
            await (await self._connection()).send(msg)

    async def flush(self, timeout: float | None = None,
                    producer: str | None = None) -> None:
        """Waits until every put sent before has its result."""
        msg: dict[str, Any] = {"op": "flush"}
        if producer or self.producer:
            msg["producer"] = producer or self.producer
        conn = await self._connection()
        await _await(await conn.request(msg), timeout, "flush")

    @property
    def outstanding(self) -> int:
        """Requests not answered yet."""
        conn = self._conn
        return conn.pending() if conn is not None and conn.alive else 0


class AsyncConsumer(_AsyncClient):
    """``Consumer`` on asyncio: ``async for item in consumer``.  Connects
    and subscribes on ``async with``, ``connect()`` or the first ``get()``.
    ``on_event`` may be a plain function or a coroutine function."""

    def __init__(self, consumer: str, socket: str | None = None, *,
                 max_in_flight: int | None = None,
                 on_event: Callable[[Event], Any] | None = None,
                 connect_timeout: float = 30.0, reconnect: bool = True,
                 reconnect_timeout: float | None = None,
                 client_name: str = _CLIENT) -> None:
        super().__init__(socket, connect_timeout, reconnect, client_name)
        if not consumer or not isinstance(consumer, str):
            raise ValueError("consumer must be a non-empty str")
        self.consumer = consumer
        self.max_in_flight = max_in_flight
        self.on_event = on_event
        self.reconnect_timeout = reconnect_timeout
        self._queue: asyncio.Queue[tuple[_AsyncConn | None, Any]] | None = None

    def _q(self) -> asyncio.Queue[tuple[_AsyncConn | None, Any]]:
        if self._queue is None:
            self._queue = asyncio.Queue()
        return self._queue

    async def _after_connect(self, conn: _AsyncConn) -> None:
        msg: dict[str, Any] = {"op": "subscribe", "consumer": self.consumer}
        if self.max_in_flight is not None:
            msg["max_in_flight"] = self.max_in_flight
        await _await(await conn.request(msg), 30, "subscribe")

    def _on_message(self, msg: dict[str, Any], conn: _AsyncConn) -> None:
        self._q().put_nowait((conn, msg))

    def _on_lost(self, conn: _AsyncConn) -> None:
        super()._on_lost(conn)
        self._q().put_nowait((conn, _LOST))

    async def get(self, timeout: float | None = None) -> Item | None:
        """The next record or event; None after timeout seconds with
        nothing, or once closed."""
        if self._conn is None and not self._closed:
            await self._connection()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                conn, msg = await asyncio.wait_for(self._q().get(), left)
            except asyncio.TimeoutError:
                return None
            if msg is _CLOSE or self._closed:
                return None
            if msg is _LOST:
                if conn is not self._conn:
                    continue
                if not self.reconnect:
                    raise ConnectionLost(conn.why if conn else "")
                await self._reconnect_loop()
                item = await self._deliver(Reconnected(self.consumer))
            elif conn is not None and not conn.alive and msg.get("op") == "record":
                continue
            else:
                item = await self._deliver(_event(msg, conn))
            if item is not None:
                return item

    async def _deliver(self, item: Item) -> Item | None:
        if isinstance(item, Event) and self.on_event is not None:
            r = self.on_event(item)
            if inspect.isawaitable(r):
                await r
            return None
        return item

    async def _reconnect_loop(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = (None if self.reconnect_timeout is None
                    else loop.time() + self.reconnect_timeout)
        while not self._closed:
            left = None if deadline is None else max(deadline - loop.time(), 0.0)
            try:
                self._conn = await self._open(left)
                log.info("kinesisd: reconnected to %s, subscribed to %s",
                         self.path, self.consumer)
                return
            except ConnectionLost:
                if deadline is not None and loop.time() >= deadline:
                    raise
                await asyncio.sleep(0.2)
            except Refused as e:
                log.warning("kinesisd: subscribe after reconnect: %s", e)
                if deadline is not None and loop.time() >= deadline:
                    raise
                await asyncio.sleep(1)

    def __aiter__(self) -> AsyncIterator[Item]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Item]:
        while True:
            item = await self.get()
            if item is None:
                return
            yield item

    async def close(self) -> None:
        """Unsubscribes and closes; a waiting iteration ends."""
        conn = self._conn
        if conn is not None and conn.alive and not self._closed:
            try:
                await _await(await conn.request(
                    {"op": "unsubscribe", "consumer": self.consumer}), 5,
                    "unsubscribe")
            except KinesisdError:
                pass
        await super().close()
        self._q().put_nowait((None, _CLOSE))
