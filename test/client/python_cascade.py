#!/usr/bin/python3
"""Run a cascade with Debian's python3-pgq: its admin and its worker.

Used by test/t/062_pgq_node_python_cascade.pl.  Ordinary skytools scripts
on one config file per node:

    python_cascade.py admin CONFIG.ini COMMAND [ARGS...]
    python_cascade.py worker CONFIG.ini

The [cascade] section names job_name (the node's worker), queue_name and
db.  "admin" is pgq.cascade.admin.CascadeAdmin (create-root,
create-branch, status, takeover, ...), with the --all switch of takeover
that londiste adds and the bare class lacks.  "worker" is a
pgq.cascade.worker.CascadedWorker that copies the queue and handles the
cascade events; the data events are not applied anywhere (that is
londiste's part), only skipped.
"""

import sys

from pgq.cascade.admin import CascadeAdmin
from pgq.cascade.worker import CascadedWorker


class Admin(CascadeAdmin):
    def __init__(self, args):
        super().__init__('cascade', 'db', args, worker_setup=True)

    def init_optparse(self, parser=None):
        p = super().init_optparse(parser)
        p.add_option('--all', action='store_true',
                     help='takeover: move all subscribers of the old node')
        return p


class Worker(CascadedWorker):
    def __init__(self, args):
        super().__init__('cascade', 'db', args)

    def process_remote_event(self, src_curs, dst_curs, ev):
        if ev.ev_type.startswith('pgq.'):
            super().process_remote_event(src_curs, dst_curs, ev)


if __name__ == '__main__':
    role = sys.argv[1]
    if role == 'admin':
        Admin(sys.argv[2:]).start()
    elif role == 'worker':
        Worker(sys.argv[2:]).start()
    else:
        sys.exit('usage: python_cascade.py admin|worker CONFIG.ini ...')
