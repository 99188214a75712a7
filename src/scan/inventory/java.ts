/**
 * Maven artifacts inside Java archives (.jar/.war/.ear), from the
 * META-INF/maven/<groupId>/<artifactId>/pom.properties files Maven writes into every artifact,
 * including shaded ones. Archives nested one level deep (Spring Boot BOOT-INF/lib, WEB-INF/lib,
 * EAR modules) are opened too. The archive is held only while its own entry streams by, up to
 * maxArchiveBytes, and inflation is bounded by the same budget.
 */
import type { ScanLimits } from '../layers/limits.js';
import type { Prober, ProbeSink } from '../layers/read-layers.js';
import type { Extractor, Package } from './types.js';
import { readCentralDirectory, readEntry, ZipError, type ZipEntry } from './zip.js';

const ARCHIVE = /\.(jar|war|ear)$/i;
const POM_PROPERTIES = /(^|\/)META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;
const MAX_POM_PROPERTIES = 64 * 1024;
export const JAVA_PROBER_ID = 'java-archive';

/** A Maven artifact; `inner` names the nested archive it came from, if any. */
export interface JavaArtifact {
  name: string;
  version: string;
  inner?: string;
}

export function javaArchiveProber(limits: ScanLimits): Prober {
  return {
    id: JAVA_PROBER_ID,
    match: (path, e) => ARCHIVE.test(path) && e.size <= limits.maxArchiveBytes && e.size >= 22,
    open: (_path, size): ProbeSink => {
      const parts: Buffer[] = [];
      return {
        write: (c) => {
          parts.push(Buffer.from(c));
          return true;
        },
        end: () => scanArchive(Buffer.concat(parts, size), { remaining: limits.maxArchiveBytes }, undefined),
      };
    },
  };
}

export const javaExtractor: Extractor = {
  name: 'java',
  probers: (limits) => [javaArchiveProber(limits)],
  extract({ view }) {
    const out: Package[] = [];
    for (const { path, value } of view.derived<JavaArtifact[]>(JAVA_PROBER_ID)) {
      for (const a of value) out.push({ ecosystem: 'Maven', name: a.name, version: a.version, path: a.inner ? `${path}!${a.inner}` : path });
    }
    return out;
  },
};

export function scanArchive(buf: Buffer, budget: { remaining: number }, inner: string | undefined): JavaArtifact[] {
  let entries: ZipEntry[];
  try {
    entries = readCentralDirectory(buf);
  } catch (e) {
    if (e instanceof ZipError && inner !== undefined) return []; // a broken nested jar costs only itself
    throw e;
  }
  const seen = new Set<string>();
  const out: JavaArtifact[] = [];
  for (const e of entries) {
    const isPom = POM_PROPERTIES.test(e.name);
    const isNested = inner === undefined && ARCHIVE.test(e.name);
    if (!isPom && !isNested) continue;
    const limit = isPom ? Math.min(MAX_POM_PROPERTIES, budget.remaining) : budget.remaining;
    let data: Buffer;
    try {
      data = readEntry(buf, e, limit);
    } catch (err) {
      if (err instanceof ZipError) continue;
      throw err;
    }
    budget.remaining -= data.length;
    if (isNested) {
      out.push(...scanArchive(data, budget, e.name));
      continue;
    }
    const props = parseProperties(data.toString('utf8'));
    const { groupId, artifactId, version } = props;
    if (!groupId || !artifactId || !version) continue;
    const key = `${groupId}:${artifactId}@${version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ name: `${groupId}:${artifactId}`, version, inner });
  }
  return out;
}

/** java.util.Properties, the subset Maven writes: key=value or key: value, # and ! comments. */
function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}
