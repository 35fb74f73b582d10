#!/usr/bin/python3
"""A python-potr (OTRv2) client on IRC, as WeeChat's otr.py runs it, for otrbnc's e2e tests.

Uses Debian's python3-potr as shipped. It cannot make a DSA key on Python 3.11 (a bug in
python3-potr 1.0.2-5 with pycryptodomex), so it can do what needs no key: answer nothing to
an OTR query it cannot speak, send its query (?OTRv2?) and plaintext with its whitespace tag.

Usage: potr_peer.py HOST PORT NICK PEER
stdout: READY once registered; RECV <text as a Python repr> for each PRIVMSG from PEER, and
        POTR <repr of what potr made of it>.
stdin:  query | tagged <text> | quit
"""
import socket
import sys
import threading

from potr import context

host, port, nick, peer = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


class Ctx(context.Context):
    def getPolicy(self, key):
        # weechat otr.py's defaults: v2 only, whitespace tags, start on a tag or an error.
        return {
            'ALLOW_V1': False,
            'ALLOW_V2': True,
            'REQUIRE_ENCRYPTION': False,
            'SEND_TAG': True,
            'WHITESPACE_START_AKE': True,
            'ERROR_START_AKE': True,
        }.get(key, False)

    def inject(self, msg, appdata=None):
        send_privmsg(msg.decode() if isinstance(msg, bytes) else msg)


class Acct(context.Account):
    def __init__(self):
        super().__init__(nick, 'irc', 415)

    def loadPrivkey(self):
        return None

    def savePrivkey(self):
        pass

    def loadTrusts(self):
        pass

    def saveTrusts(self):
        pass


sock = socket.create_connection((host, port))
lock = threading.Lock()


def raw(line):
    with lock:
        sock.sendall((line + '\r\n').encode())


def send_privmsg(text):
    # IRC carries no newlines: one PRIVMSG per line, as otr.py does.
    for part in text.split('\n'):
        if part:
            raw('PRIVMSG %s :%s' % (peer, part))


def out(line):
    print(line, flush=True)


account = Acct()
ctx = Ctx(account, peer)


def reader():
    buf = b''
    while True:
        data = sock.recv(4096)
        if not data:
            out('CLOSED')
            return
        buf += data
        while b'\r\n' in buf:
            line, buf = buf.split(b'\r\n', 1)
            text = line.decode('utf-8', 'replace')
            parts = text.split(' ')
            if parts[0] == 'PING':
                raw('PONG ' + ' '.join(parts[1:]))
            elif len(parts) > 1 and parts[1] == '001':
                out('READY')
            elif len(parts) > 3 and parts[1] == 'PRIVMSG' and parts[0][1:].split('!')[0].lower() == peer.lower():
                msg = text.split(' :', 1)[1] if ' :' in text else ''
                out('RECV ' + repr(msg))
                try:
                    res = ctx.receiveMessage(msg.encode())
                    out('POTR ' + repr(res))
                except Exception as e:  # potr raises on what it cannot handle
                    out('POTR-ERROR ' + type(e).__name__)


raw('NICK ' + nick)
raw('USER %s 0 * :python-potr peer' % nick)
threading.Thread(target=reader, daemon=True).start()
for command in sys.stdin:
    command = command.rstrip('\n')
    if command == 'query':
        send_privmsg(account.getDefaultQueryMessage(ctx.getPolicy).decode())
    elif command.startswith('tagged '):
        tagged = ctx.sendMessage(context.FRAGMENT_SEND_ALL, command[7:].encode())
        send_privmsg(tagged.decode())
    elif command == 'quit':
        raw('QUIT :bye')
        break
