#!/usr/bin/env python3
"""End-to-end SAM check for the i2p-testnet (python3 stdlib only).

Usage:
  samcheck.py check --sam HOST:PORT --dest NAME --target HOST:PORT
                    [--sessions N] [--options "k=v ..."] [--timeout S]
                    [--report FILE]
  samcheck.py b32 KEYSFILE
  samcheck.py hello --sam HOST:PORT

check: binds a temporary listener on --target (the server tunnel's target),
then, in N parallel threads (as N bouncers would), each
  1. HELLO VERSION MIN=3.0 MAX=3.1 and SESSION CREATE STYLE=STREAM
     DESTINATION=TRANSIENT SIGNATURE_TYPE=7 <--options> on a control socket,
  2. NAMING LOOKUP NAME=<--dest> on that session socket (retried until
     RESULT=OK; on a non-session socket i2pd would ask floodfills through
     its shared 3-hop destination, which has no tunnels offline),
  3. STREAM CONNECT ID=<session> DESTINATION=<b64> SILENT=false on a second
     socket, sends "PING <nonce>" and waits for the listener's "PONG <nonce>".
STREAM STATUS RESULT=OK only means i2pd accepted the request: success is the
line arriving at the listener and the reply coming back. Prints timings and
the source address the listener saw for each session, which must be
127.<first three bytes of the session destination's SHA-256 hash> (i2pd's
enableuniquelocal), never 127.0.0.1; exits 1 on failure.
The listener is closed before exiting.

b32: prints the .b32.i2p address of an i2pd private keys file (or of a
destination file): lowercase base32 (no padding) of SHA-256 of the public
destination bytes.

hello: exits 0 if a SAM bridge answers HELLO VERSION MIN=3.0 MAX=3.1.
"""

import argparse
import base64
import hashlib
import os
import re
import socket
import sys
import threading
import time

T0 = time.monotonic()
PRINT_LOCK = threading.Lock()


def say(msg):
    with PRINT_LOCK:
        print(f"[samcheck {time.monotonic() - T0:5.1f}s] {msg}", flush=True)


def host_port(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


# ---------------------------------------------------------------- keys / b32

def i2p_b64decode(text):
    text = text.strip()
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-~", validate=True)


def public_destination(data):
    """The public destination at the start of a keys (or destination) buffer:
    256-byte encryption key + 128-byte signing key area + certificate
    (1 byte type, 2 bytes big-endian length, payload)."""
    if len(data) < 387:
        raise ValueError(f"too short for an I2P destination ({len(data)} bytes)")
    cert_len = int.from_bytes(data[385:387], "big")
    end = 387 + cert_len
    if len(data) < end:
        raise ValueError("truncated certificate")
    return data[:end]


def b32_of_destination(dest):
    digest = hashlib.sha256(dest).digest()
    return base64.b32encode(digest).decode().lower().rstrip("=") + ".b32.i2p"


def b32_of_file(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        # A file holding base64 text (e.g. a SAM DEST GENERATE reply).
        data = i2p_b64decode(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        pass
    return b32_of_destination(public_destination(data))


# --------------------------------------------------------------------- SAM

REPLY_RE = re.compile(r'([A-Za-z0-9_.]+)=("(?:[^"\\]|\\.)*"|\S*)')


class SamError(Exception):
    pass


class SamSocket:
    def __init__(self, addr, timeout):
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.sock.settimeout(timeout)
        self.rfile = self.sock.makefile("rb")

    def command(self, line, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        self.sock.sendall(line.encode() + b"\n")
        reply = self.rfile.readline()
        if not reply:
            raise SamError(f"SAM closed the connection after: {line.split(' DESTINATION=')[0][:80]}")
        reply = reply.decode(errors="replace").rstrip("\r\n")
        fields = {k: v.strip('"') for k, v in REPLY_RE.findall(reply)}
        return reply, fields

    def hello(self):
        reply, fields = self.command("HELLO VERSION MIN=3.0 MAX=3.1")
        if fields.get("RESULT") != "OK":
            raise SamError(f"HELLO failed: {reply}")
        return fields.get("VERSION", "?")

    def close(self):
        try:
            self.rfile.close()
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- listener

class Listener:
    """Accept connections on the server tunnel's target; for every line
    "PING <nonce>" record the peer address and answer "PONG <nonce>"."""

    def __init__(self, addr):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind(addr)
        except OSError as e:
            self.sock.close()
            raise SamError(f"cannot listen on {addr[0]}:{addr[1]} (the server tunnel target): {e}")
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.seen = {}  # nonce -> peer ip
        self.closed = False
        self.cond = threading.Condition()
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while not self.closed:
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn, peer[0]), daemon=True).start()

    def serve(self, conn, peer):
        with conn:
            conn.settimeout(60)
            rfile = conn.makefile("rb")
            try:
                for line in rfile:
                    words = line.decode(errors="replace").split()
                    if len(words) == 2 and words[0] == "PING":
                        with self.cond:
                            self.seen[words[1]] = peer
                            self.cond.notify_all()
                        conn.sendall(f"PONG {words[1]}\n".encode())
            except OSError:
                pass

    def wait_for(self, nonce, timeout):
        with self.cond:
            self.cond.wait_for(lambda: nonce in self.seen, timeout)
            return self.seen.get(nonce)

    def close(self):
        self.closed = True
        self.sock.close()


# ------------------------------------------------------------------ check

class Client(threading.Thread):
    def __init__(self, name, args, listener, deadline):
        super().__init__(daemon=True)
        self.name_ = name
        self.args = args
        self.listener = listener
        self.deadline = deadline
        self.ok = False
        self.error = None
        self.times = {}
        self.source = None
        self.expected_source = None

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise SamError("timed out")
        return left

    def run(self):
        try:
            self.check()
            self.ok = True
        except (OSError, SamError, ValueError, KeyError) as e:
            self.error = str(e) if isinstance(e, SamError) else f"{type(e).__name__}: {e}"
            say(f"{self.name_}: FAILED: {self.error}")

    def check(self):
        a = self.args
        sam = host_port(a.sam)
        sid = f"samcheck-{self.name_}-{os.getpid()}-{os.urandom(3).hex()}"
        ctl = SamSocket(sam, self.remaining())
        try:
            version = ctl.hello()
            t = time.monotonic()
            reply, f = ctl.command(
                f"SESSION CREATE STYLE=STREAM ID={sid} DESTINATION=TRANSIENT "
                f"SIGNATURE_TYPE=7 {a.options}".strip(), timeout=self.remaining())
            if f.get("RESULT") != "OK":
                raise SamError(f"SESSION CREATE failed: {reply[:200]}")
            self.times["session"] = time.monotonic() - t
            # i2pd's server tunnel connects to its target from
            # 127.<first three bytes of the client destination's hash>.
            own = hashlib.sha256(public_destination(i2p_b64decode(f["DESTINATION"]))).digest()
            self.expected_source = "127.%d.%d.%d" % tuple(own[:3])
            say(f"{self.name_}: SAM {version}, SESSION CREATE ok in {self.times['session']:.1f}s")

            # NAMING LOOKUP on the session socket, retried: the server
            # tunnel's lease set may not be published yet.
            t = time.monotonic()
            attempt = 0
            while True:
                attempt += 1
                reply, f = ctl.command(f"NAMING LOOKUP NAME={a.dest}", timeout=self.remaining())
                if f.get("RESULT") == "OK" and f.get("VALUE"):
                    dest_b64 = f["VALUE"]
                    break
                if self.deadline - time.monotonic() < 2:
                    raise SamError(f"NAMING LOOKUP failed {attempt} times, last: {reply[:200]}")
                time.sleep(1)
            self.times["lookup"] = time.monotonic() - t
            got = b32_of_destination(public_destination(i2p_b64decode(dest_b64)))
            if a.dest.endswith(".b32.i2p") and got != a.dest:
                raise SamError(f"NAMING LOOKUP returned a destination for {got}, not {a.dest}")
            say(f"{self.name_}: NAMING LOOKUP ok in {self.times['lookup']:.1f}s "
                f"({attempt} attempt{'s' if attempt > 1 else ''})")

            # STREAM CONNECT + PING/PONG through the server tunnel. A stream
            # whose first attempt is lost is retried on a fresh socket.
            t = time.monotonic()
            attempt = 0
            last_err = None
            while True:
                attempt += 1
                err = self.stream_once(sam, sid, dest_b64)
                if err is None:
                    break
                if self.deadline - time.monotonic() < 5:
                    raise SamError(f"stream failed {attempt} times, last: {err}")
                if err != last_err or attempt % 10 == 0:
                    say(f"{self.name_}: stream attempt {attempt} failed ({err}); retrying")
                last_err = err
                time.sleep(2)
            self.times["stream"] = time.monotonic() - t
            say(f"{self.name_}: stream ok in {self.times['stream']:.2f}s "
                f"({attempt} attempt{'s' if attempt > 1 else ''}), target saw source {self.source} "
                "(= 127.<client destination hash[0:3]>)")
        finally:
            ctl.close()

    def stream_once(self, sam, sid, dest_b64):
        """One STREAM CONNECT + ping/pong; None on success, else a reason."""
        nonce = f"{self.name_}-{os.urandom(6).hex()}"
        s = SamSocket(sam, min(self.remaining(), 30))
        try:
            s.hello()
            reply, f = s.command(f"STREAM CONNECT ID={sid} DESTINATION={dest_b64} SILENT=false")
            if f.get("RESULT") != "OK":
                return f"STREAM CONNECT: {reply[:120]}"
            s.sock.sendall(f"PING {nonce}\n".encode())
            wait = min(self.remaining(), self.args.stream_timeout)
            self.source = self.listener.wait_for(nonce, wait)
            if self.source is None:
                return f"line not delivered to the target within {wait:.0f}s"
            s.sock.settimeout(min(self.remaining(), self.args.stream_timeout))
            line = s.rfile.readline().decode(errors="replace").strip()
            if line != f"PONG {nonce}":
                return f"reply from target not received (got {line!r})"
            if self.source != self.expected_source:
                raise SamError(f"target saw source {self.source}, expected {self.expected_source} "
                               "(127.<first 3 bytes of the client destination hash>)")
            return None
        except socket.timeout:
            return "timeout"
        finally:
            s.close()


def cmd_check(args):
    deadline = time.monotonic() + args.timeout
    try:
        listener = Listener(host_port(args.target))
    except SamError as e:
        say(f"FAILED: {e}")
        return 1
    try:
        clients = [Client(chr(ord("a") + i), args, listener, deadline) for i in range(args.sessions)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(args.timeout + 30)
    finally:
        listener.close()
    ok = all(c.ok for c in clients)
    sources = sorted({c.source for c in clients if c.source})
    say(f"{'OK' if ok else 'FAILED'}: {sum(c.ok for c in clients)}/{len(clients)} sessions "
        f"reached {args.dest} -> {args.target}; sources seen: {', '.join(sources) or 'none'}")
    if args.report:
        with open(args.report, "w") as f:
            f.write(f"ok={int(ok)}\n")
            for c in clients:
                for k, v in c.times.items():
                    f.write(f"{c.name_}.{k}={v:.1f}\n")
                f.write(f"{c.name_}.source={c.source or ''}\n")
            f.write(f"sources={' '.join(sources)}\n")
    return 0 if ok else 1


def cmd_b32(args):
    try:
        print(b32_of_file(args.keysfile))
    except (OSError, ValueError) as e:
        print(f"samcheck: {args.keysfile}: {e}", file=sys.stderr)
        return 1
    return 0


def cmd_hello(args):
    try:
        s = SamSocket(host_port(args.sam), args.timeout)
        print(f"SAM {s.hello()}")
        s.close()
    except (OSError, SamError) as e:
        print(f"samcheck: {e}", file=sys.stderr)
        return 1
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("--sam", required=True)
    c.add_argument("--dest", required=True, help="b32 address (or any name i2pd can look up)")
    c.add_argument("--target", required=True, help="HOST:PORT the server tunnel forwards to")
    c.add_argument("--sessions", type=int, default=2)
    c.add_argument("--options", default="", help="extra SESSION CREATE options")
    c.add_argument("--timeout", type=float, default=180, help="overall deadline (s)")
    c.add_argument("--stream-timeout", type=float, default=30,
                   help="per stream attempt wait for delivery (s)")
    c.add_argument("--report", help="write key=value results here")
    b = sub.add_parser("b32")
    b.add_argument("keysfile")
    h = sub.add_parser("hello")
    h.add_argument("--sam", required=True)
    h.add_argument("--timeout", type=float, default=5)
    args = p.parse_args()
    return {"check": cmd_check, "b32": cmd_b32, "hello": cmd_hello}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
