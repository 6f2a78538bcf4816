#!/usr/bin/python3
"""The Python side of test/londiste3/handlers/ldhandler_probe: the same script
format, run through python3-londiste's handler classes on a psycopg2
connection, as its worker drives them (prepare_batch on the table's first
event, process_event with a statement queue, finish_batch, commit).

    ldhandler_pyprobe.py CONFIG.ini TABLE HANDLER [DEST] < script

Only the table's final contents are meant to be compared; the statement
text differs in details (quoting of timestamps).
"""

import sys

import psycopg2
import skytools

import londiste.handler
from pgq.event import Event


def parse_event(text, ev_id):
    fields = [None if f == '\\N' else skytools.unescape_copy(f)
              for f in text.split('\t')]
    fields += [None] * (7 - len(fields))
    row = {'ev_id': ev_id, 'ev_txid': 1000 + ev_id, 'ev_retry': None,
           'ev_type': fields[0], 'ev_data': fields[1],
           'ev_extra1': fields[2], 'ev_extra2': fields[3],
           'ev_extra3': fields[4], 'ev_extra4': fields[5],
           'ev_time': fields[6]}
    return Event('q', row)


def main():
    cf = skytools.Config('londiste', sys.argv[1])
    londiste.handler.load_handler_modules(cf)
    dest = sys.argv[4] if len(sys.argv) > 4 else None
    handler = londiste.handler.build_handler(sys.argv[2], sys.argv[3], dest)
    db = psycopg2.connect(cf.get('db'))
    curs = db.cursor()
    queue = []
    batch_info = None
    prepared = False

    def flush():
        if queue:
            curs.execute("\n".join(queue))
            del queue[:]

    def sql_queue(sql, arg):
        queue.append(sql)

    ev_id = 1
    for line in sys.stdin:
        line = line.rstrip('\n')
        if not line or line.startswith('#'):
            continue
        cmd, _, arg = line.partition(' ')
        if cmd == 'batch':
            tick, _, tick_time = arg.partition(' ')
            batch_info = {'tick_id': int(tick), 'batch_end': tick_time}
            handler.reset()
            prepared = False
        elif cmd == 'event':
            if not prepared:
                handler.prepare_batch(batch_info, curs)
                prepared = True
            handler.process_event(parse_event(arg, ev_id), sql_queue, None)
            ev_id += 1
        elif cmd == 'finish':
            flush()
            if prepared:
                handler.finish_batch(batch_info, curs)
            flush()
            db.commit()
            print("committed")
        elif cmd in ('info', 'copy_event', 'copy_condition', 'copy_columns', 'copy_row'):
            continue
        else:
            raise Exception('unknown probe command: %s' % cmd)


main()
