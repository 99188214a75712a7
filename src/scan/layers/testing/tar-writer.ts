/**
 * Test helper: writes tar archives the way real layer builders do (ustar, GNU long names,
 * PAX), so the reader is tested against bytes laid out per the spec, not against itself.
 * Not used by production code.
 */
import { Readable } from 'node:stream';

export type TarSpecType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo';

export interface TarSpec {
  path: string;
  type?: TarSpecType;
  data?: string | Buffer;
  linkname?: string;
  mode?: number;
  /** Extra PAX records written in an `x` header before this entry. */
  pax?: Record<string, string>;
  /** Names longer than 100 bytes: 'gnu' writes an `L` entry, 'pax' a PAX path (default). */
  longNames?: 'gnu' | 'pax';
  /** Overrides the size field (for lying headers). */
  sizeField?: number;
}

const FLAGS: Record<TarSpecType, string> = { file: '0', dir: '5', symlink: '2', hardlink: '1', fifo: '6' };

export function header(fields: { name: string; size: number; flag: string; linkname?: string; mode?: number; gnu?: boolean }): Buffer {
  const h = Buffer.alloc(512);
  h.write(fields.name, 0, 100, 'utf8');
  writeOctal(h, 100, 8, fields.mode ?? 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  if (fields.size > 0o77777777777) {
    // GNU base-256 for sizes beyond 8 GiB - 1.
    h[124] = 0x80;
    let v = fields.size;
    for (let i = 135; i > 124; i--) {
      h[i] = v % 256;
      v = Math.floor(v / 256);
    }
  } else {
    writeOctal(h, 124, 12, fields.size);
  }
  writeOctal(h, 136, 12, 1700000000);
  h.write(fields.flag, 156, 1, 'latin1');
  if (fields.linkname) h.write(fields.linkname, 157, 100, 'utf8');
  if (fields.gnu) h.write('ustar  \0', 257, 8, 'latin1');
  else {
    h.write('ustar\0', 257, 6, 'latin1');
    h.write('00', 263, 2, 'latin1');
  }
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return h;
}

function writeOctal(h: Buffer, off: number, len: number, v: number): void {
  h.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

export function pad(n: number): Buffer {
  return Buffer.alloc((512 - (n % 512)) % 512);
}

function paxPayload(records: Record<string, string>): Buffer {
  let out = '';
  for (const [k, v] of Object.entries(records)) {
    const body = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(body) + 1;
    while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
    out += `${len}${body}`;
  }
  return Buffer.from(out, 'utf8');
}

export function entry(spec: TarSpec): Buffer {
  const type = spec.type ?? 'file';
  const data = typeof spec.data === 'string' ? Buffer.from(spec.data) : (spec.data ?? Buffer.alloc(0));
  const parts: Buffer[] = [];
  const pax: Record<string, string> = { ...(spec.pax ?? {}) };
  let name = spec.path;
  let linkname = spec.linkname;
  const long = Buffer.byteLength(name) > 100 || Buffer.byteLength(linkname ?? '') > 100;
  if (long && spec.longNames === 'gnu') {
    if (Buffer.byteLength(name) > 100) {
      const n = Buffer.from(name + '\0');
      parts.push(header({ name: '././@LongLink', size: n.length, flag: 'L', gnu: true }), n, pad(n.length));
      name = name.slice(0, 100);
    }
    if (linkname && Buffer.byteLength(linkname) > 100) {
      const n = Buffer.from(linkname + '\0');
      parts.push(header({ name: '././@LongLink', size: n.length, flag: 'K', gnu: true }), n, pad(n.length));
      linkname = linkname.slice(0, 100);
    }
  } else if (long) {
    pax.path = name;
    name = name.slice(0, 100);
    if (linkname && Buffer.byteLength(linkname) > 100) {
      pax.linkpath = linkname;
      linkname = linkname.slice(0, 100);
    }
  }
  if (Object.keys(pax).length > 0) {
    const p = paxPayload(pax);
    parts.push(header({ name: 'PaxHeaders/x', size: p.length, flag: 'x' }), p, pad(p.length));
  }
  const size = type === 'file' ? data.length : 0;
  parts.push(header({ name, size: spec.sizeField ?? size, flag: FLAGS[type], linkname, mode: spec.mode ?? (type === 'dir' ? 0o755 : 0o644) }));
  if (type === 'file') parts.push(data, pad(data.length));
  return Buffer.concat(parts);
}

export function tar(specs: TarSpec[], opts: { end?: boolean } = {}): Buffer {
  const parts = specs.map(entry);
  if (opts.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A Readable over a buffer, in small chunks so boundaries fall mid-header and mid-body. */
export function streamOf(buf: Buffer, chunk = 1000): Readable {
  let off = 0;
  return new Readable({
    read() {
      if (off >= buf.length) return void this.push(null);
      this.push(buf.subarray(off, off + chunk));
      off += chunk;
    },
  });
}

/** A file of `size` zero bytes, produced on the fly: the archive is never held in memory. */
export function hugeZeroFileTar(path: string, size: number, after: TarSpec[] = []): Readable {
  const zeros = Buffer.alloc(1024 * 1024);
  async function* gen(): AsyncGenerator<Buffer> {
    yield header({ name: path, size, flag: '0' });
    let left = size;
    while (left > 0) {
      const n = Math.min(left, zeros.length);
      yield n === zeros.length ? zeros : zeros.subarray(0, n);
      left -= n;
    }
    yield pad(size);
    yield tar(after);
  }
  return Readable.from(gen(), { objectMode: false });
}

/**
 * A tar of `count` tiny files (plus os-release and a one-package dpkg database, so a scan of it
 * completes): the layer shape whose scan cost is all per-entry work — tar headers, path
 * normalization, the merged view — rather than bytes. 100,000 files gzip to about 1.7 MB.
 * `salt` makes each layer distinct (a scanned digest's inventory is reused).
 */
export function manySmallFilesTar(count: number, salt = ''): Buffer {
  const parts: Buffer[] = [
    entry({ path: 'etc/os-release', data: 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' }),
    entry({ path: 'var/lib/dpkg/status', data: `Package: berth-fixture\nStatus: install ok installed\nVersion: 1.0${salt}\n` }),
  ];
  for (let i = 0; i < count; i++) parts.push(entry({ path: `usr/share/fixture/d${Math.floor(i / 1000)}/f${i}`, data: `${salt}${i}\n` }));
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
