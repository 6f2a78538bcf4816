#!/usr/bin/python3
"""A queue mover on python3-pgq's SerialConsumer: the reference our
queue_mover is checked against (test/t/152_queue_mover_python.pl,
bench/queue_mover.sh).  It reads the same ini file as queue_mover:

    python_queue_mover.py CONFIG.ini [--register | --unregister | ...]

with the main section [queue_mover3] and the keys src_db, dst_db,
queue_name and dst_queue_name.  The events of a batch go into the target
queue the way Skytools' queue_mover3 writes them, with python3-pgq's
pgq.bulk_insert_events (one COPY into the queue's current event table),
keeping ev_time, ev_type, ev_data and ev_extra1..4; pgq_ext tracks the
last tick, as SerialConsumer does.

If the environment variable PGQ_TEST_KILL_AFTER_BATCH is k > 0, the
process sends itself SIGKILL right after the target transaction of the
k-th batch it applied with events has committed, before that batch is
finished on the source, having first written "batch_id tick_id" to the
file named by PGQ_TEST_KILL_FILE.
"""

import os
import signal
import sys

import pgq

FIELDS = ['time', 'type', 'data', 'extra1', 'extra2', 'extra3', 'extra4']


class PythonQueueMover(pgq.SerialConsumer):
    def __init__(self, args):
        super().__init__('queue_mover3', 'src_db', 'dst_db', args)
        self.dst_queue_name = self.cf.get('dst_queue_name')
        self.kill_after = int(os.environ.get('PGQ_TEST_KILL_AFTER_BATCH', '0'))
        self.kill_file = os.environ.get('PGQ_TEST_KILL_FILE', '')
        self.applied_batches = 0
        self.applied_last = False

    def process_batch(self, db, batch_id, ev_list):
        self.applied_last = False
        super().process_batch(db, batch_id, ev_list)

    def process_remote_batch(self, db, batch_id, ev_list, dst_db):
        rows = [[ev.time, ev.type, ev.data, ev.extra1, ev.extra2, ev.extra3,
                 ev.extra4] for ev in ev_list]
        if rows:
            pgq.bulk_insert_events(dst_db.cursor(), rows, FIELDS,
                                   self.dst_queue_name)
            # process_batch commits the target right after this returns
            self.applied_batches += 1
            self.applied_last = True

    def _finish_batch(self, curs, batch_id, ev_list):
        if (self.kill_after and self.applied_last
                and self.applied_batches == self.kill_after):
            with open(self.kill_file + '.tmp', 'w') as out:
                out.write('%d %d\n' % (batch_id, self.batch_info['tick_id']))
            os.rename(self.kill_file + '.tmp', self.kill_file)
            os.kill(os.getpid(), signal.SIGKILL)
        super()._finish_batch(curs, batch_id, ev_list)


if __name__ == '__main__':
    PythonQueueMover(sys.argv[1:]).start()
