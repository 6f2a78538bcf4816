#!/usr/bin/python3
"""A stand-in for Skytools' simple_local_consumer3 on Debian's python3-pgq.

Used by test/t/162_simple_local_python.pl.  Debian ships pgq.LocalConsumer
but not the simple_local_consumer3 script, so this is a small one of the
same behaviour, reading the same config file as our simple_local_consumer:

    python_simple_local_consumer.py CONFIG.ini [--register | --unregister]

Section [simple_local_consumer3] with src_db, dst_db, queue_name, dst_query
and local_tracking_file.  For each I:/U:/D: event, dst_query runs on dst_db
in autocommit with the urldecoded ev_data plus the pgq.* keys; any other
event is skipped.  The tick file is pgq.LocalConsumer's own.
"""

import sys

import psycopg2
import skytools

import pgq


class PythonSimpleLocalConsumer(pgq.LocalConsumer):
    def __init__(self, args):
        super().__init__('simple_local_consumer3', 'src_db', args)

    def reload(self):
        super().reload()
        self.dst_query = self.cf.get('dst_query')

    def process_local_event(self, db, batch_id, ev):
        if ev.type[:2] not in ('I:', 'U:', 'D:'):
            return
        values = skytools.db_urldecode(ev.data) if ev.data is not None else {}
        values['pgq.tick_id'] = self.batch_info['tick_id']
        values['pgq.ev_id'] = ev.id
        values['pgq.ev_time'] = ev.time
        values['pgq.ev_type'] = ev.type
        values['pgq.ev_data'] = ev.data
        values['pgq.ev_extra1'] = ev.extra1
        values['pgq.ev_extra2'] = ev.extra2
        values['pgq.ev_extra3'] = ev.extra3
        values['pgq.ev_extra4'] = ev.extra4
        self.execute_with_retry('dst_db', self.dst_query, values,
                                exceptions=(psycopg2.OperationalError,))


if __name__ == '__main__':
    PythonSimpleLocalConsumer(sys.argv[1:]).start()
