#!/usr/bin/python3
"""check_pgxn_meta.py DIST.zip

Checks the META.json of a PGXN distribution against the PGXN Meta Spec
1.0.0 (https://pgxn.org/spec/): the required keys and the form of each
value, that every file named in "provides" is in the archive, and that
the archive is <name>-<version>.zip holding a single <name>-<version>/
directory.  Prints one line per problem; exits 1 if there is any.
"""

import json
import re
import sys
import zipfile

SEMVER = re.compile(r'^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)'
                    r'(-[0-9A-Za-z][0-9A-Za-z-]*)?$')
# prereq versions: a version, or operators and versions joined by commas
VERSION_RANGE = re.compile(r'^\s*((==|!=|>=|<=|>|<)\s*)?[0-9][0-9A-Za-z.-]*\s*$')
LICENSES = {'agpl_3', 'apache_1_1', 'apache_2_0', 'artistic_1', 'artistic_2',
            'bsd', 'freebsd', 'gfdl_1_2', 'gfdl_1_3', 'gpl_1', 'gpl_2',
            'gpl_3', 'lgpl_2_1', 'lgpl_3_0', 'mit', 'mozilla_1_0',
            'mozilla_1_1', 'openssl', 'perl_5', 'postgresql', 'qpl_1_0',
            'ssleay', 'sun', 'zlib', 'open_source', 'restricted',
            'unrestricted', 'unknown'}
PHASES = {'configure', 'build', 'test', 'runtime', 'develop'}
RELATIONS = {'requires', 'recommends', 'suggests', 'conflicts'}
STATUSES = {'stable', 'testing', 'unstable'}

problems = []


def problem(text):
    problems.append(text)


def check_string(meta, key, required=True):
    value = meta.get(key)
    if value is None:
        if required:
            problem(f'"{key}" is missing')
        return None
    if not isinstance(value, str) or not value.strip():
        problem(f'"{key}" must be a non-empty string')
        return None
    return value


def check_semver(value, where):
    if not isinstance(value, str) or not SEMVER.match(value):
        problem(f'{where}: "{value}" is not a semantic version (x.y.z)')


def check_meta(meta, names):
    spec = meta.get('meta-spec')
    if not isinstance(spec, dict) or spec.get('version') != '1.0.0':
        problem('"meta-spec" must be an object with "version": "1.0.0"')

    name = check_string(meta, 'name')
    if name is not None and (len(name) < 2 or re.search(r'[\s/\\:]', name)):
        problem(f'"name" "{name}": at least two characters, no blanks, "/", "\\" or ":"')
    version = check_string(meta, 'version')
    if version is not None:
        check_semver(version, '"version"')
    check_string(meta, 'abstract')
    check_string(meta, 'description', required=False)

    maintainer = meta.get('maintainer')
    if isinstance(maintainer, str):
        maintainer = [maintainer]
    if not isinstance(maintainer, list) or not maintainer or \
            not all(isinstance(m, str) and m.strip() for m in maintainer):
        problem('"maintainer" must be a string or a non-empty list of strings')

    lic = meta.get('license')
    if isinstance(lic, str):
        lic = [lic]
    if isinstance(lic, list):
        if not lic or any(item not in LICENSES for item in lic):
            problem(f'"license" {meta.get("license")!r}: not among the spec\'s license strings')
    elif not (isinstance(lic, dict) and lic):
        problem('"license" must be a license string, a list of them or an object of URLs')

    provides = meta.get('provides')
    if not isinstance(provides, dict) or not provides:
        problem('"provides" must be a non-empty object')
        provides = {}
    for ext, info in provides.items():
        where = f'provides.{ext}'
        if not isinstance(info, dict):
            problem(f'{where} must be an object')
            continue
        for key in ('file', 'docfile'):
            path = info.get(key)
            if path is None:
                if key == 'file':
                    problem(f'{where}.file is missing')
                continue
            if f'{name}-{version}/{path}' not in names:
                problem(f'{where}.{key} "{path}" is not in the archive')
        if 'version' not in info:
            problem(f'{where}.version is missing')
        else:
            check_semver(info['version'], f'{where}.version')

    prereqs = meta.get('prereqs', {})
    if not isinstance(prereqs, dict):
        problem('"prereqs" must be an object')
        prereqs = {}
    for phase, relations in prereqs.items():
        if phase not in PHASES or not isinstance(relations, dict):
            problem(f'prereqs.{phase}: unknown phase or not an object')
            continue
        for relation, reqs in relations.items():
            if relation not in RELATIONS or not isinstance(reqs, dict):
                problem(f'prereqs.{phase}.{relation}: unknown relation or not an object')
                continue
            for req, spec in reqs.items():
                ok = isinstance(spec, (int, str)) and all(
                    VERSION_RANGE.match(part) for part in str(spec).split(','))
                if not ok:
                    problem(f'prereqs.{phase}.{relation}.{req}: bad version "{spec}"')

    status = meta.get('release_status', 'stable')
    if status not in STATUSES:
        problem(f'"release_status" "{status}" is not one of {sorted(STATUSES)}')
    tags = meta.get('tags', [])
    if not isinstance(tags, list) or not all(
            isinstance(t, str) and 0 < len(t) <= 255 for t in tags):
        problem('"tags" must be a list of strings of 1 to 255 characters')
    return name, version


def main():
    if len(sys.argv) != 2:
        print('usage: check_pgxn_meta.py DIST.zip', file=sys.stderr)
        return 2
    path = sys.argv[1]
    with zipfile.ZipFile(path) as dist:
        names = set(dist.namelist())
        tops = {n.split('/', 1)[0] for n in names}
        if len(tops) != 1:
            print(f'{path}: more than one top-level entry: {sorted(tops)}')
            return 1
        top = tops.pop()
        try:
            meta = json.loads(dist.read(f'{top}/META.json'))
        except KeyError:
            print(f'{path}: no {top}/META.json')
            return 1
        except ValueError as err:
            print(f'{path}: META.json is not valid JSON: {err}')
            return 1
    if not isinstance(meta, dict):
        print(f'{path}: META.json is not an object')
        return 1
    name, version = check_meta(meta, names)
    expected = f'{name}-{version}'
    if top != expected:
        problem(f'the archive\'s directory is "{top}", expected "{expected}"')
    if not path.endswith(f'/{expected}.zip') and path != f'{expected}.zip':
        problem(f'the archive is named {path}, expected {expected}.zip')
    for text in problems:
        print(f'{path}: {text}')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
