#!/usr/bin/python3
"""Benchmark consumer on python3-pgq: a plain pgq.Consumer that counts the
events of every batch (bench/libpgq_count.c does the same on our library).

    python_count.py CONNINFO QUEUE CONSUMER LAZY_FETCH

Takes batches until none is left and prints one line:
batches=N events=N seconds=S server_cpu=S
(server_cpu: the CPU time of the connection's server process, which runs
on this machine).
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


def backend_cpu_seconds(db):
    """CPU seconds (user + system) of the connection's server process."""
    try:
        with open('/proc/%d/stat' % db.get_backend_pid()) as f:
            stat = f.read()
    except OSError:
        return -1
    # fields 14 and 15, after the parenthesised process name, in clock ticks
    fields = stat[stat.rindex(')') + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


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
        server_cpu = backend_cpu_seconds(script.get_database(script.db_name))
    finally:
        os.unlink(ini.name)
    print('batches=%d events=%d seconds=%.6f server_cpu=%.2f'
          % (script.batches, script.events, elapsed, server_cpu))


main()
