#!/usr/bin/python3
"""Read an ini file with python3-skytools' Config, the reference for our
INI parser (test/t/091_framework_ini_parity.pl).

    python_config_oracle.py SECTION INI [KEY:TYPE ...]

Prints "load ok" or "load error", then one line per KEY:TYPE (types: str,
int, float, bool, bytes, file): "KEY:TYPE<TAB>value" with newlines shown as
\\n, or "KEY:TYPE<TAB>ERROR".  Without KEY:TYPE arguments every option of
the main section is printed as str.  Exit status 0 in all these cases.
"""

import sys

import skytools

GETTERS = {
    'str': 'get',
    'int': 'getint',
    'float': 'getfloat',
    'bool': 'getbool',
    'bytes': 'getbytes',
    'file': 'getfile',
}


def show(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return '%g' % value
    return str(value).replace('\n', '\\n')


def main():
    section, ini = sys.argv[1], sys.argv[2]
    try:
        cf = skytools.Config(section, ini)
    except Exception:
        print('load error')
        return
    print('load ok')
    wanted = sys.argv[3:] or ['%s:str' % k for k in sorted(cf.options())
                              if k != 'host_name']
    for item in wanted:
        key, kind = item.rsplit(':', 1)
        try:
            value = getattr(cf, GETTERS[kind])(key)
        except Exception:
            print('%s\tERROR' % item)
            continue
        print('%s\t%s' % (item, show(value)))


main()
