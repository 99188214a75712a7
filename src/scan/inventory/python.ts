/**
 * Python distributions: *.dist-info/METADATA (wheels, pip) and *.egg-info/PKG-INFO or a bare
 * *.egg-info file (setuptools). Both are RFC 822 headers before the description, so only the
 * first 64 KiB is kept.
 */
import type { Extractor, Package } from './types.js';

const PATTERN = /(^|\/)[^/]+\.(dist-info\/METADATA|egg-info\/PKG-INFO|egg-info)$/;
const HEAD_BYTES = 64 * 1024;

export const pythonExtractor: Extractor = {
  name: 'python',
  rules: () => [{ id: 'python', match: (p) => PATTERN.test(p), maxBytes: HEAD_BYTES, prefixOnly: true }],
  extract({ view }) {
    const out: Package[] = [];
    for (const f of view.files((p) => PATTERN.test(p))) {
      const h = parseHeaders(f.data.toString('utf8'));
      if (h.name && h.version) out.push({ ecosystem: 'PyPI', name: h.name, version: h.version, path: f.path });
    }
    return out;
  },
};

function parseHeaders(text: string): { name?: string; version?: string } {
  const out: { name?: string; version?: string } = {};
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break; // the body (long description) starts here
    const m = /^(Name|Version):\s*(.*?)\s*$/i.exec(line);
    if (m) out[m[1]!.toLowerCase() as 'name' | 'version'] ??= m[2]!;
  }
  return out;
}
