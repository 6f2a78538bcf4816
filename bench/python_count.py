#!/usr/bin/python3
"""Benchmark consumer on python3-pgq: a plain pgq.Consumer that counts the
events of every batch (bench/libpgq_count.c does the same on our library).

    python_count.py CONNINFO QUEUE CONSUMER LAZY_FETCH

Takes batches until none is left and prints one line:
batches=N events=N seconds=S
"""

import os
import sys
import tempfile
import time

import pgq


class CountingConsumer(pgq.Consumer):
    def __init__(self, args):
        super().__init__('python_count', 'src_db', args)
        self.batches = 0
        self.events = 0

    def process_batch(self, db, batch_id, ev_list):
        for _ev in ev_list:
            self.events += 1
        self.batches += 1


def main():
    conninfo, queue, consumer, lazy_fetch = sys.argv[1:5]
    with tempfile.NamedTemporaryFile('w', suffix='.ini', delete=False) as ini:
        ini.write('[python_count]\n'
                  'src_db = %s\nqueue_name = %s\nconsumer_name = %s\n'
                  'pgq_lazy_fetch = %s\nloop_delay = 0.01\n'
                  % (conninfo, queue, consumer, lazy_fetch))
    try:
        script = CountingConsumer([ini.name, '-q'])
        started = time.monotonic()
        # the frame's loop, without its sleeps: work() is 1 per batch
        while script.work():
            pass
        elapsed = time.monotonic() - started
    finally:
        os.unlink(ini.name)
    print('batches=%d events=%d seconds=%.6f'
          % (script.batches, script.events, elapsed))


main()
