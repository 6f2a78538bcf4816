#!/usr/bin/python3
"""One subconsumer of a python3-pgq CoopConsumer group, recording its work.

Used by test/t/011_python_coop.pl.  An ordinary skytools script:

    python_coop_consumer.py CONFIG.ini [--register | --unregister]

Besides the pgq.CoopConsumer settings (subconsumer_name,
subconsumer_timeout), the [python_coop_consumer] section names:

    result_table    table in the queue database that gets one row per
                    processed event: (ev_id, ev_data, batch_id, subconsumer)
    stall_on_batch  if set to k > 0, the k-th non-empty batch is recorded
                    but never finished: the script writes
                    "batch_id pid" to stall_file and sleeps, so that the
                    test can kill it in the middle of that batch
    stall_file      see stall_on_batch

The rows go in through the queue connection and commit together with
pgq_coop.finish_batch().  If the finish finds the batch gone (another
member took it over meanwhile), the rows are rolled back: a row in the
table therefore means that this member's processing of the event is the
one that closed its batch, and each event must appear exactly once.
"""

import os
import sys
import time

import pgq


class RecordingCoopConsumer(pgq.CoopConsumer):
    def __init__(self, args):
        super().__init__('python_coop_consumer', 'db', args)
        self.result_table = self.cf.get('result_table')
        self.stall_on_batch = self.cf.getint('stall_on_batch', 0)
        self.stall_file = self.cf.getfile('stall_file', '')
        self.nonempty_batches = 0

    def process_batch(self, db, batch_id, ev_list):
        curs = db.cursor()
        rows = 0
        for ev in ev_list:
            curs.execute('insert into ' + self.result_table
                         + ' (ev_id, ev_data, batch_id, subconsumer)'
                         + ' values (%s, %s, %s, %s)',
                         [ev.id, ev.data, batch_id, self.subconsumer_name])
            rows += 1
        if rows == 0:
            return
        self.nonempty_batches += 1
        if self.nonempty_batches == self.stall_on_batch:
            with open(self.stall_file + '.tmp', 'w') as out:
                out.write('%d %d\n' % (batch_id, os.getpid()))
            os.rename(self.stall_file + '.tmp', self.stall_file)
            # Hold the open transaction until the test kills us.
            while True:
                time.sleep(3600)

    def _finish_batch(self, curs, batch_id, ev_list):
        super()._finish_batch(curs, batch_id, ev_list)
        if curs.fetchone()[0] != 1:
            self.log.warning('batch %d was taken over, rolling back', batch_id)
            curs.connection.rollback()

    def exception_hook(self, det, emsg):
        # skytools would log the error and retry after a pause; a test wants
        # the first error to end the run instead.
        super().exception_hook(det, emsg)
        sys.exit(1)


if __name__ == '__main__':
    RecordingCoopConsumer(sys.argv[1:]).start()
