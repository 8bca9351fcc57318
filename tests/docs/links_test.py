#!/usr/bin/env python3
"""links_test.py — every relative link and image in the shipped Markdown (README, docs/, results/published/) names a file that exists.

A page a user opens first must not point at nothing: publish.sh once stopped copying
the scale charts and README kept linking one for weeks. External links (http, https,
mailto) and in-page anchors are not checked (no network in CI); a link's own #anchor
is cut before the file is looked up.
usage: links_test.py SOURCE_DIR
"""
import os
import re
import sys

# [text](target) and ![alt](target); the target ends at the first space or ')'
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
FENCE = re.compile(r'^\s*(```|~~~)')


def markdown_files(top):
    yield os.path.join(top, 'README.md')
    for sub in ('docs', os.path.join('results', 'published')):
        for root, _, files in os.walk(os.path.join(top, sub)):
            for f in sorted(files):
                if f.endswith('.md'):
                    yield os.path.join(root, f)


def broken_links(path):
    out = []
    in_code = False
    with open(path, encoding='utf-8') as fh:
        for n, line in enumerate(fh, 1):
            if FENCE.match(line):
                in_code = not in_code
                continue
            if in_code:
                continue
            # inline code spans hold examples, not links
            text = re.sub(r'`[^`]*`', '', line)
            for m in LINK.finditer(text):
                target = m.group(1)
                if re.match(r'^[a-z][a-z0-9+.-]*:', target) or target.startswith('#'):
                    continue
                file_part = target.split('#', 1)[0]
                if not file_part:
                    continue
                full = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
                if not os.path.exists(full):
                    out.append((n, target))
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    top = os.path.abspath(sys.argv[1])
    files = [f for f in markdown_files(top) if os.path.exists(f)]
    if not files:
        print(f'links_test: no Markdown under {top}', file=sys.stderr)
        return 2
    bad = 0
    checked = 0
    for f in files:
        for n, target in broken_links(f):
            print(f'{os.path.relpath(f, top)}:{n}: links to {target}, which does not exist')
            bad += 1
        checked += 1
    print(f'links_test: {checked} files, {bad} broken links')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
