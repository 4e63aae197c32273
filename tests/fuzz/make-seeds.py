#!/usr/bin/env python3
# make-seeds.py: the fuzz targets' seed corpora, from recorded QEMU traffic
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Writes tests/fuzz/corpus/fuzz-{stream,message,client}/ from the
# transcripts in tests/data/ (what QEMU 7.2 and qemu-storage-daemon really
# sent) plus hand-made edge cases. The output is deterministic; run it
# again after adding transcripts, and commit the result:
#
#   tests/fuzz/make-seeds.py
#
# The seeds stay small (a few KiB): libFuzzer mutates small inputs faster.

import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, '..', 'data')
CORPUS = os.path.join(HERE, 'corpus')
MAX_SEED = 4096


def transcripts():
    """(name, [(conn, direction, raw bytes)]) for every transcript."""
    for name in sorted(os.listdir(DATA)):
        if not name.endswith('.jsonl'):
            continue
        records = []
        with open(os.path.join(DATA, name), encoding='utf-8') as f:
            for line in f:
                r = json.loads(line)
                if 'dir' in r:
                    records.append((r['conn'], r['dir'], r['raw'].encode('utf-8')))
        yield name.split('-')[0], records


def received(records):
    return [raw for conn, direction, raw in records if direction == 'recv']


def find_reply(records, command):
    """The raw reply QEMU sent to the first successful @command."""
    ids = {}
    for conn, direction, raw in records:
        try:
            message = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        if direction == 'sent' and message.get('execute') == command:
            ids[(conn, json.dumps(message.get('id')))] = True
        elif direction == 'recv' and 'return' in message:
            if (conn, json.dumps(message.get('id'))) in ids:
                return message['return']
    return None


class Writer:
    def __init__(self, target):
        self.dir = os.path.join(CORPUS, target)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.seen = set()

    def add(self, name, data):
        if data in self.seen:
            return
        self.seen.add(data)
        with open(os.path.join(self.dir, name), 'wb') as f:
            f.write(data)


def line(obj):
    return json.dumps(obj).encode('utf-8') + b'\r\n'


# ---------------------------------------------------------------------------
# Hand-made edge cases, shared by the targets that read lines

DEEP_OK = b'{"return": ' + b'[' * 500 + b']' * 500 + b', "id": "qmpthin-1"}'
DEEP_BAD = b'[' * 600 + b']' * 600
EDGE_LINES = {
    'huge-int': b'{"return": {"wr_highest_offset": 99999999999999999999999999}, "id": "qmpthin-1"}',
    'huge-double': b'{"event": "BLOCK_WRITE_THRESHOLD", "data": {"node-name": "n", "write-threshold": 1e400, "amount-exceeded": -1e400}, "timestamp": {"seconds": 1, "microseconds": 2}}',
    'int64-edges': b'{"event": "BLOCK_WRITE_THRESHOLD", "data": {"node-name": "n", "write-threshold": 9223372036854775807, "amount-exceeded": 9223372036854775807}, "timestamp": {"seconds": 9223372036854775807, "microseconds": -9223372036854775808}}',
    'timestamp-max': b'{"event": "STOP", "timestamp": {"seconds": 9223372036853, "microseconds": 999999}}',
    'deep-ok': DEEP_OK,
    'deep-bad': DEEP_BAD,
    'nul-byte': b'{"return": "a\x00b", "id": "qmpthin-1"}',
    'escaped-nul': b'{"event": "BLOCK_IO_ERROR", "data": {"device": "a\\u0000b", "node-name": "\\u0000", "operation": "write", "action": "stop", "nospace": true, "reason": "x"}}',
    'invalid-utf8': b'{"return": "\xff\xfe", "id": "qmpthin-1"}',
    'lone-surrogate': b'{"event": "X\\ud800", "data": {"k": "\\udc00"}}',
    'two-values': b'{"return": {}} {"return": {}}',
    'strings-with-brackets': b'{"return": "[[[{{{\\"]]]\\\\", "id": "qmpthin-1"}',
    'error-unknown-class': b'{"id": "qmpthin-1", "error": {"class": "NoSuchClass", "desc": ""}}',
    'blockstats-chain': b'{"return": [' + b'{"stats": {"wr_highest_offset": 1}, "parent": ' * 30 + b'{"stats": {}}' + b'}' * 30 + b'], "id": "qmpthin-1"}',
}


# ---------------------------------------------------------------------------
# fuzz-message: one line each

def make_message(all_records):
    w = Writer('fuzz-message')
    n = 0
    shapes = set()
    for name, records in all_records:
        for raw in received(records):
            if len(raw) > MAX_SEED:
                continue
            message = json.loads(raw)
            # One seed per shape (kind, event name or value type).
            shape = (name, tuple(sorted(message.keys())), message.get('event'),
                     type(message.get('return')).__name__)
            if shape in shapes:
                continue
            shapes.add(shape)
            w.add('%s-%02d' % (name, n), raw)
            n += 1
    for edge, raw in EDGE_LINES.items():
        w.add('edge-' + edge, raw + b'\r\n')
    return w


# ---------------------------------------------------------------------------
# fuzz-stream: a header (see fuzz-stream.c), then a run of received bytes

def stream_seed(payload, splits=(), limits=0, stop=0):
    return bytes([len(splits) | limits << 4, stop]) + bytes(splits) + payload


def make_stream(all_records):
    w = Writer('fuzz-stream')
    for i, (name, records) in enumerate(all_records):
        payload = b''
        for raw in received(records):
            if len(payload) + len(raw) > 2048:
                break
            payload += raw
        w.add(name + '-bytewise', stream_seed(payload))
        w.add(name + '-pieces', stream_seed(payload, splits=(1, 7, 64, 2, 200), stop=2))
        w.add(name + '-stop-every-line', stream_seed(payload, splits=(13, 13), stop=0x80))
        w.add(name + '-small-limits', stream_seed(payload, splits=(30,), limits=0b1101))
    crlf = b'{"a": 1}\r\n{"b": 2}\r\n'
    w.add('edge-crlf-split', stream_seed(crlf, splits=(9, 1, 9, 1)))
    w.add('edge-cr-only', stream_seed(b'{"a": 1}\r\r\n\r\n \t\r\n{"b": 2}\r'))
    w.add('edge-blank-lines', stream_seed(b'\n\r\n   \n\t\n{}\n'))
    w.add('edge-newline-in-string', stream_seed(b'{"a": "x\ny"}\n{"b": 1}\n'))
    w.add('edge-depth-limit', stream_seed(b'[[[1]]]\n[[[[1]]]]\n', limits=0b1000))
    w.add('edge-size-limit', stream_seed(b'0123456789abcdef\r\n0123456789abcdefg\r\n', limits=0b0001))
    w.add('edge-no-newline', stream_seed(b'{"return": {}}' * 8))
    for edge, raw in EDGE_LINES.items():
        w.add('edge-' + edge, stream_seed(raw + b'\r\n', splits=(5, 5)))
    return w


# ---------------------------------------------------------------------------
# fuzz-client: whole sessions, numbered as the client numbers its commands

GREETING = None


def reply(value, n):
    return line({'return': value, 'id': 'qmpthin-%d' % n})


def error(n, klass='GenericError', desc='failed'):
    return line({'id': 'qmpthin-%d' % n, 'error': {'class': klass, 'desc': desc}})


def session(greeting, status, blocks, replies, events=()):
    """A session: negotiation and resync's query-status (sent together),
    the rest of the resync, then the fuzz target's seven commands answered
    in order, @events after the first reply. A @status of None is a server
    without query-status."""
    out = [greeting, reply({}, 1),
           reply(status, 2) if status else error(2, 'CommandNotFound', 'no query-status')]
    n = 3
    if status and not status['running']:
        out.append(reply(blocks, n))
        n += 1
    for i, r in enumerate(replies):
        out.append(r(n + i) if callable(r) else reply(r, n + i))
        if i == 0:
            out.extend(events)
    # The event handler's query-status, from inside the handler.
    if events:
        out.append(reply(status or {}, n + len(replies)))
    return b''.join(out)


def make_client(all_records):
    w = Writer('fuzz-client')
    by_name = dict(all_records)
    greeting = received(by_name['s1_greeting'])[0]
    events = {}
    for name, records in all_records:
        for raw in received(records):
            message = json.loads(raw)
            if 'event' in message and len(raw) < 600:
                events.setdefault(message['event'], raw)

    running = {'status': 'running', 'singlestep': False, 'running': True}
    paused = {'status': 'io-error', 'singlestep': False, 'running': False}
    block = find_reply(by_name['s3_enospc_pause'], 'query-block') or []
    stats = find_reply(by_name['s7_storage_daemon'], 'query-blockstats') or []
    nodes = find_reply(by_name['s3_enospc_pause'], 'query-named-block-nodes') or []
    version = find_reply(by_name['s1_greeting'], 'query-version') or {}
    # Keep the seeds small: the first entries say as much as all of them.
    stats = stats[:2]
    nodes = nodes[:2]
    for entry in nodes:
        entry.pop('image', None)
    answers = [running, block, stats, nodes, {}, {}, version]

    w.add('greeting-only', greeting)
    w.add('negotiated', greeting + reply({}, 1))
    w.add('negotiation-refused', greeting + error(1, 'CommandNotFound', 'no'))
    w.add('not-a-greeting', b'{"return": {}}\r\n')
    w.add('running', session(greeting, running, block, answers))
    w.add('paused-nospace', session(greeting, paused, block, answers))
    w.add('all-errors', session(greeting, running, block,
                                [lambda n: error(n)] * len(answers)))
    w.add('events', session(greeting, running, block, answers,
                            events=[events[e] for e in sorted(events)]))
    for e in sorted(events):
        w.add('event-' + e, session(greeting, running, block, answers, events=[events[e]]))
    w.add('qsd-no-query-status', session(greeting, None, block, answers))
    w.add('truncated-reply', session(greeting, running, block, answers)[:-20])
    w.add('unknown-ids', greeting + reply({}, 1) + reply({}, 99) + line({'return': {}, 'id': 7})
          + error(1000) + line({'error': {'class': 'GenericError', 'desc': 'no id'}}))
    w.add('greeting-twice', greeting + reply({}, 1) + greeting)
    for edge in ('huge-int', 'huge-double', 'deep-ok', 'deep-bad', 'nul-byte',
                 'invalid-utf8', 'escaped-nul', 'blockstats-chain'):
        w.add('edge-' + edge, greeting + reply({}, 1) + EDGE_LINES[edge] + b'\r\n')
    return w


def main():
    all_records = list(transcripts())
    for make in (make_stream, make_message, make_client):
        w = make(all_records)
        print('%s: %d seeds' % (os.path.basename(w.dir), len(os.listdir(w.dir))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
