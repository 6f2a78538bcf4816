#!/usr/bin/python3
"""A python3-pgq RemoteConsumer or SerialConsumer applying events to a
second database that has pgq_ext.

Used by test/t/012_python_remote.pl.  An ordinary skytools script:

    python_remote_consumer.py CONFIG.ini [--register | --unregister]

The [python_remote_consumer] section names, besides the pgq.Consumer
settings:

    consumer_class  "remote" (pgq.RemoteConsumer: pgq_ext batch tracking)
                    or "serial" (pgq.SerialConsumer: pgq_ext tick tracking)
    dst_db          connection string of the target database
    result_table    target table that gets one row per applied event:
                    (ev_id, ev_data, batch_id)

If the environment variable PGQ_TEST_KILL_AFTER_BATCH is k > 0, the
process sends itself SIGKILL right after the target transaction of the
k-th batch it applied with events has committed, before that batch is
finished on the queue database, having first written
"batch_id tick_id" to the file named by PGQ_TEST_KILL_FILE.
"""

import os
import signal
import sys

import pgq


class RecordingMixin:
    """What both consumer classes share: applying events to result_table,
    and the injected crash between the target commit and finish_batch."""

    def init_recording(self):
        self.result_table = self.cf.get('result_table')
        self.kill_after = int(os.environ.get('PGQ_TEST_KILL_AFTER_BATCH', '0'))
        self.kill_file = os.environ.get('PGQ_TEST_KILL_FILE', '')
        self.applied_batches = 0
        self.applied_last = False

    def process_batch(self, db, batch_id, ev_list):
        self.applied_last = False
        super().process_batch(db, batch_id, ev_list)

    def process_remote_batch(self, db, batch_id, ev_list, dst_db):
        curs = dst_db.cursor()
        rows = 0
        for ev in ev_list:
            curs.execute('insert into ' + self.result_table
                         + ' (ev_id, ev_data, batch_id) values (%s, %s, %s)',
                         [ev.id, ev.data, batch_id])
            rows += 1
        if rows > 0:
            # process_batch commits the target right after this returns
            self.applied_batches += 1
            self.applied_last = True

    def _finish_batch(self, curs, batch_id, ev_list):
        if self.applied_last and self.applied_batches == self.kill_after:
            with open(self.kill_file + '.tmp', 'w') as out:
                out.write('%d %d\n' % (batch_id, self.batch_info['tick_id']))
            os.rename(self.kill_file + '.tmp', self.kill_file)
            os.kill(os.getpid(), signal.SIGKILL)
        super()._finish_batch(curs, batch_id, ev_list)

    def exception_hook(self, det, emsg):
        # a test wants the first error to end the run
        super().exception_hook(det, emsg)
        sys.exit(1)


class RecordingRemoteConsumer(RecordingMixin, pgq.RemoteConsumer):
    def __init__(self, args):
        super().__init__('python_remote_consumer', 'db', 'dst_db', args)
        self.init_recording()


class RecordingSerialConsumer(RecordingMixin, pgq.SerialConsumer):
    def __init__(self, args):
        super().__init__('python_remote_consumer', 'db', 'dst_db', args)
        self.init_recording()


if __name__ == '__main__':
    # The class must be known before the config is parsed; read it from
    # the file directly.
    import configparser
    cf = configparser.ConfigParser()
    cf.read(sys.argv[1])
    kind = cf.get('python_remote_consumer', 'consumer_class')
    cls = {'remote': RecordingRemoteConsumer,
           'serial': RecordingSerialConsumer}[kind]
    cls(sys.argv[1:]).start()
