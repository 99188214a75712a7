/**
 * Fixtures of the metadata contract suite (contract-suite.ts): a fresh database per test, any
 * number of stores ("nodes") on it, and small helpers to record blobs and push manifests.
 */
import { it } from 'node:test';
import { digestOf, type Digest } from '../core/digest.js';
import type { JobRequest, MetadataStore, OutboxEvent, PutManifestInput, PutManifestResult } from './types.js';
import type { ReplicationStart } from './replication.js';
import { type RegistryKey, registryKey } from '../core/registry-key.js';
import type { ManifestQuotaLimits } from './quotas.js';

/** One empty database of the engine under test. */
export interface ContractDatabase {
  /** A store on this database; every call is another node, with its own connections. */
  open(): Promise<MetadataStore>;
  /** Called after every store opened on it is closed. */
  destroy(): Promise<void>;
}

export type NewDatabase = () => Promise<ContractDatabase>;

export interface Nodes {
  /** The first node's store. */
  a: MetadataStore;
  /** A second node on the same database. */
  b: MetadataStore;
}

/** Declares a test that gets a fresh database with two nodes on it. */
export type ContractTest = (name: string, fn: (nodes: Nodes) => Promise<void>) => void;

export function contractTest(newDatabase: NewDatabase): ContractTest {
  return (name, fn) =>
    it(name, async () => {
      const db = await newDatabase();
      const opened: MetadataStore[] = [];
      try {
        const a = await db.open();
        opened.push(a);
        const b = await db.open();
        opened.push(b);
        await fn({ a, b });
      } finally {
        for (const s of opened) await s.close();
        await db.destroy();
      }
    });
}

export const REGISTRY = registryKey('123456789012', 'us-east-1');
export const OTHER_REGISTRY = registryKey('210987654321', 'eu-west-1');

const T0 = Date.parse('2026-01-01T00:00:00Z');
/** A fixed instant plus `ms`: tests pass their own clock, as callers do. */
export const at = (ms = 0): Date => new Date(T0 + ms);

/** A new role (RoleStore.createRole's input) of the IAM suites' account 123456789012, as `extra` changes it. */
export const newRole = (name: string, extra: object = {}) => ({
  accountId: '123456789012',
  name,
  roleId: `AROA${name.toUpperCase().padEnd(17, 'X')}`,
  path: '/',
  trustPolicy: '{}',
  description: '',
  maxSessionDuration: 3600,
  tags: [],
  now: at(1),
  ...extra,
});

/** A distinct, valid digest per name. */
export const dg = (name: string | number): Digest => digestOf(`content ${name}`);

export async function repo(s: MetadataStore, name = 'team/web', registryKey = REGISTRY): Promise<number> {
  return (await s.repositories.ensure(registryKey, name, at())).id;
}

/** Records a verified blob into a repository (as a finished upload does). */
export async function blob(s: MetadataStore, repositoryId: number, name: string | number, size = 100, now = at()): Promise<Digest> {
  const d = dg(name);
  await s.blobs.record(repositoryId, { digest: d, size }, now);
  return d;
}

export interface PushOptions {
  repository?: string;
  registryKey?: RegistryKey;
  createRepository?: boolean;
  blobs?: Digest[];
  manifests?: Digest[];
  /** The pull-through cache's index exception. */
  absentManifestsAllowed?: boolean;
  tag?: string;
  /** More tags, written in the same put. */
  tags?: string[];
  /** Applies to every tag of the push. */
  tagMutable?: boolean;
  /** Makes the payload (so the digest) distinct. */
  salt?: string;
  subject?: Digest;
  artifactType?: string;
  annotations?: Record<string, string>;
  scan?: JobRequest;
  jobs?: JobRequest[];
  events?: OutboxEvent[];
  replications?: ReplicationStart[];
  limits?: ManifestQuotaLimits;
  /** The sizes the manifest's descriptors declare. */
  declaredSizes?: ReadonlyMap<Digest, number>;
  now?: Date;
}

/** Pushes a manifest whose payload lists its references; returns its digest and the result. */
export async function push(s: MetadataStore, o: PushOptions = {}): Promise<{ digest: Digest; payload: Buffer; result: PutManifestResult }> {
  const payload = Buffer.from(JSON.stringify({ blobs: o.blobs ?? [], manifests: o.manifests ?? [], salt: o.salt ?? '' }));
  const digest = digestOf(payload);
  const input: PutManifestInput = {
    registryKey: o.registryKey ?? REGISTRY,
    repository: o.repository ?? 'team/web',
    createRepository: o.createRepository ?? true,
    digest,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    payload,
    blobs: o.blobs ?? [],
    manifests: o.manifests ?? [],
    ...(o.absentManifestsAllowed !== undefined && { absentManifestsAllowed: o.absentManifestsAllowed }),
    now: o.now ?? at(),
    tags: [...(o.tag !== undefined ? [o.tag] : []), ...(o.tags ?? [])].map((name) => ({ name, mutable: o.tagMutable ?? true })),
    ...(o.subject !== undefined && { subject: o.subject }),
    ...(o.artifactType !== undefined && { artifactType: o.artifactType }),
    ...(o.annotations !== undefined && { annotations: o.annotations }),
    ...(o.scan !== undefined && { scan: o.scan }),
    ...(o.events !== undefined && { events: o.events }),
    ...(o.jobs !== undefined && { jobs: o.jobs }),
    ...(o.replications !== undefined && { replications: o.replications }),
    ...(o.limits !== undefined && { limits: o.limits }),
    ...(o.declaredSizes !== undefined && { declaredSizes: o.declaredSizes }),
  };
  return { digest, payload, result: await s.manifests.put(input) };
}

/** Byte order (SQLite's BINARY collation), the order every listing uses on every engine. */
export const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Every page of a paginated listing, concatenated. */
export async function allPages(list: (after: string | undefined) => Promise<string[]>, limit: number): Promise<string[]> {
  const out: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await list(after);
    out.push(...page);
    if (page.length < limit) return out;
    after = page[page.length - 1];
  }
}
