"""Regenerates cli/serve_page.h (a C string) from cli/serve_page.html. Run from the repo root."""
src = open('cli/serve_page.html').read()
out = ['/* Generated from cli/serve_page.html by tools/gen_serve_page.py: the web page of `labelfree serve`. */',
       '#ifndef LF_SERVE_PAGE_H', '#define LF_SERVE_PAGE_H', 'static const char SERVE_PAGE[] =']
for line in src.splitlines(True):
    out.append('    "' + line.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n') + '"')
out[-1] += ';'
out += ['#endif', '']
open('cli/serve_page.h', 'w').write('\n'.join(out))
