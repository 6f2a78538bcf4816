#!/usr/bin/python3
"""Consume a queue with Debian's python3-pgq and record every delivery.

Used by test/t/010_python_consumer.pl.  It is an ordinary skytools script:

    python_consumer.py CONFIG.ini [--register | --unregister]

Besides the usual pgq.Consumer settings, the [python_consumer] section of
the config names:

    result_file       file that gets one line per delivered event:
                      "batch_id ev_id ev_retry ev_type ev_data"
                      (ev_retry is "-" when NULL)
    expected_events   how many distinct ev_data values will be produced
    retry_event_data  ev_data of the event to send back with event_retry
                      (retry delay 0) the first time it is delivered

The script loops until it has seen every expected event once and the
retried one a second time, then exits 0.  It does not judge duplicates or
losses itself: the test reads the result file for that.
"""

import sys

import pgq


class RecordingConsumer(pgq.Consumer):
    def __init__(self, args):
        super().__init__('python_consumer', 'db', args)
        self.result_file = self.cf.getfile('result_file')
        self.expected_events = self.cf.getint('expected_events')
        self.retry_event_data = self.cf.get('retry_event_data')
        self.seen_data = set()
        self.retried_event_returned = False

    def process_batch(self, db, batch_id, ev_list):
        with open(self.result_file, 'a') as out:
            for ev in ev_list:
                retry = '-' if ev.retry is None else str(ev.retry)
                out.write('%d %d %s %s %s\n'
                          % (batch_id, ev.id, retry, ev.type, ev.data))
                if ev.data != self.retry_event_data:
                    self.seen_data.add(ev.data)
                elif ev.retry is None:
                    self.seen_data.add(ev.data)
                    ev.tag_retry(0)
                else:
                    self.retried_event_returned = True

        # stop() lets the current batch finish (and its retry be recorded)
        # before the main loop ends.
        if (len(self.seen_data) >= self.expected_events
                and self.retried_event_returned):
            self.stop()

    def exception_hook(self, det, emsg):
        # skytools would log the error and retry after a pause; a test wants
        # the first error to end the run instead.
        super().exception_hook(det, emsg)
        sys.exit(1)


if __name__ == '__main__':
    RecordingConsumer(sys.argv[1:]).start()
