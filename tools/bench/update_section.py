"""Replaces the section NAME of a Markdown file (between <!-- NAME:begin -->
and <!-- NAME:end -->) with stdin, appending it if absent.

usage: update_section.py NAME FILE < content
"""
import os
import sys

name, path = sys.argv[1], sys.argv[2]
body = sys.stdin.read().rstrip("\n") + "\n"
begin, end = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->\n"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
if begin in text and end in text:
    a = text.index(begin)
    b = text.index(end) + len(end)
    text = text[:a] + begin + body + end + text[b:]
else:
    text = text.rstrip("\n") + "\n\n" + begin + body + end
open(path, "w").write(text)
