/**
 * createRepositoryFor, the entry point replication, the pull-through cache and create-on-push
 * share: which template applies (longest prefix for the scenario, else ROOT, else ECR's
 * defaults), and that what it creates carries all of the template at once. On the real SQLite
 * engine and the memory blob store.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Codes, RegistryError } from '../core/errors.js';
import { ChangeSignal } from '../core/expiring-cache.js';
import { digestOf } from '../core/digest.js';
import { MediaTypes } from '../core/media-types.js';
import { parseTag } from '../core/names.js';
import { registryKey } from '../core/registry-key.js';
import { prefixesCovering } from './creation-templates.js';
import { HashPool } from './hash-pool.js';
import { createRegistry, type Registry } from './registry.js';
import { testContext } from './testing.js';

const REGISTRY = registryKey('000000000000', 'us-east-1');
const LIFECYCLE = JSON.stringify({
  rules: [
    { rulePriority: 1, description: 'keep ten', selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 10 }, action: { type: 'expire' } },
  ],
});
const POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'pull', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: ['ecr:BatchGetImage'] }],
});

function newRegistry(): { registry: Registry; bumps: () => number } {
  const authzChanges = new ChangeSignal();
  const ctx = testContext({ hashing: new HashPool(), authzChanges });
  return { registry: createRegistry(ctx), bumps: () => authzChanges.version };
}

const at = (name: string) => ({ registryKey: REGISTRY, name });

describe('repository creation templates in the registry core', () => {
  it('a prefix covers the namespaces under it, never the name itself or a longer word', () => {
    assert.deepEqual(prefixesCovering('prod/team/api'), ['prod/team', 'prod', 'ROOT']);
    assert.deepEqual(prefixesCovering('prod'), ['ROOT']);
  });

  it('longest prefix for the scenario wins, then ROOT, then ECR defaults; each scenario picks its own', async () => {
    const { registry, bumps } = newRegistry();
    const t = registry.creationTemplates;
    try {
      await t.create(REGISTRY, 'ROOT', { appliedFor: ['REPLICATION', 'PULL_THROUGH_CACHE'], resourceTags: [{ Key: 'from', Value: 'root' }] });
      await t.create(REGISTRY, 'prod', { appliedFor: ['REPLICATION'], imageTagMutability: 'IMMUTABLE', resourceTags: [{ Key: 'from', Value: 'prod' }] });
      await t.create(REGISTRY, 'prod/team/', {
        appliedFor: ['PULL_THROUGH_CACHE'],
        imageTagMutability: 'MUTABLE_WITH_EXCLUSION',
        imageTagMutabilityExclusionFilters: [{ filterType: 'WILDCARD', filter: 'release-*' }],
        resourceTags: [{ Key: 'from', Value: 'prod/team' }],
        lifecyclePolicy: LIFECYCLE,
        repositoryPolicy: POLICY,
      });
      const tagOf = async (name: string) => (await registry.repositories.resourceTags(at(name))).find((x) => x.Key === 'from')?.Value;

      // REPLICATION: prod/team has no REPLICATION template, so prod's applies.
      const replicated = await t.createRepositoryFor(at('prod/team/api'), 'REPLICATION');
      assert.equal(replicated.settings.imageTagMutability, 'IMMUTABLE');
      assert.equal(await tagOf('prod/team/api'), 'prod');
      await assert.rejects(registry.lifecyclePolicies.get(at('prod/team/api')), /does not exist/);

      // PULL_THROUGH_CACHE: prod/team's (its trailing slash was the same prefix), with both policies.
      const before = bumps();
      const cached = await t.createRepositoryFor(at('prod/team/cache/nginx'), 'PULL_THROUGH_CACHE', { tags: [{ Key: 'upstream', Value: 'docker-hub' }] });
      assert.equal(cached.settings.imageTagMutability, 'MUTABLE_WITH_EXCLUSION');
      assert.deepEqual(cached.settings.imageTagMutabilityExclusionFilters, [{ filterType: 'WILDCARD', filter: 'release-*' }]);
      assert.deepEqual(await registry.repositories.resourceTags(at('prod/team/cache/nginx')), [
        { Key: 'from', Value: 'prod/team' },
        { Key: 'upstream', Value: 'docker-hub' },
      ]);
      assert.equal(await registry.lifecyclePolicies.get(at('prod/team/cache/nginx')), LIFECYCLE);
      assert.equal(await registry.policies.repositoryPolicy(at('prod/team/cache/nginx')), POLICY);
      assert.ok(bumps() > before, 'cached authorization decisions are dropped: the new repository has a policy');

      // "prod" covers prod/..., not "production/x" nor "prod" itself: ROOT's then.
      await t.createRepositoryFor(at('production/x'), 'REPLICATION');
      assert.equal(await tagOf('production/x'), 'root');
      await t.createRepositoryFor(at('prod'), 'REPLICATION');
      assert.equal(await tagOf('prod'), 'root');

      // CREATE_ON_PUSH: no template names it, so ECR's defaults.
      const pushed = await t.createRepositoryFor(at('prod/team/web'), 'CREATE_ON_PUSH');
      assert.equal(pushed.settings.imageTagMutability, 'MUTABLE');
      assert.deepEqual(await registry.repositories.resourceTags(at('prod/team/web')), []);
    } finally {
      await registry.ctx.meta.close();
      await registry.ctx.hashing.close();
    }
  });

  it('an existing repository is returned unchanged; a bad name is refused and creates nothing', async () => {
    const { registry } = newRegistry();
    try {
      await registry.repositories.create(at('prod/web'), {});
      await registry.creationTemplates.create(REGISTRY, 'prod', { appliedFor: ['REPLICATION'], imageTagMutability: 'IMMUTABLE' });
      const [a, b] = await Promise.all([
        registry.creationTemplates.createRepositoryFor(at('prod/web'), 'REPLICATION'),
        registry.creationTemplates.createRepositoryFor(at('prod/new'), 'REPLICATION'),
      ]);
      assert.equal(a.settings.imageTagMutability, 'MUTABLE', 'the existing repository keeps its settings');
      assert.equal(b.settings.imageTagMutability, 'IMMUTABLE');
      // Two creators racing for one name both get the one repository.
      const racing = await Promise.all([1, 2, 3].map(() => registry.creationTemplates.createRepositoryFor(at('prod/raced'), 'REPLICATION')));
      assert.equal(new Set(racing.map((r) => r.id)).size, 1);
      await assert.rejects(registry.creationTemplates.createRepositoryFor(at('Prod/Upper'), 'REPLICATION'), (e: unknown) => e instanceof RegistryError);
      assert.equal(await registry.repositories.exists(at('Prod/Upper')), false);
    } finally {
      await registry.ctx.meta.close();
      await registry.ctx.hashing.close();
    }
  });

  it('update changes only the fields given, "" clears, and an invalid result changes nothing', async () => {
    const { registry } = newRegistry();
    const t = registry.creationTemplates;
    try {
      await t.create(REGISTRY, 'team', { appliedFor: ['CREATE_ON_PUSH'], description: 'd', lifecyclePolicy: LIFECYCLE, imageTagMutability: 'IMMUTABLE' });
      const u = await t.update(REGISTRY, 'team', { description: '', appliedFor: ['REPLICATION', 'REPLICATION'] });
      assert.equal(u.description, undefined);
      assert.deepEqual(u.appliedFor, ['REPLICATION']);
      assert.equal(u.lifecyclePolicy, LIFECYCLE);
      assert.equal(u.imageTagMutability, 'IMMUTABLE');
      await assert.rejects(
        t.update(REGISTRY, 'team', { imageTagMutability: 'IMMUTABLE_WITH_EXCLUSION' }),
        (e: unknown) => e instanceof RegistryError && e.code === Codes.InvalidParameter,
      );
      await assert.rejects(t.update(REGISTRY, 'absent', { description: 'x' }), (e: unknown) => e instanceof RegistryError && e.code === Codes.TemplateNotFound);
      const [back] = await t.describe(REGISTRY, { prefixes: ['team'], limit: 10 });
      assert.deepEqual(back, u);
    } finally {
      await registry.ctx.meta.close();
      await registry.ctx.hashing.close();
    }
  });
  it('a manifest-first push: an empty index creates its repository from the template; a refused push creates nothing', async () => {
    const { registry } = newRegistry();
    const ref = { kind: 'tag' as const, tag: parseTag('v1') };
    try {
      await registry.creationTemplates.create(REGISTRY, 'apps', {
        appliedFor: ['CREATE_ON_PUSH'],
        imageTagMutability: 'IMMUTABLE',
        lifecyclePolicy: LIFECYCLE,
      });
      const emptyIndex = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] }));
      await registry.manifests.push(at('apps/empty'), ref, emptyIndex, MediaTypes.ociIndex);
      assert.equal((await registry.repositories.get(at('apps/empty'))).settings.imageTagMutability, 'IMMUTABLE');
      assert.equal(await registry.lifecyclePolicies.get(at('apps/empty')), LIFECYCLE);

      const config = Buffer.from('{}');
      const missingBlobs = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaTypes.ociManifest,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
          layers: [],
        }),
      );
      await assert.rejects(registry.manifests.push(at('apps/refused'), ref, missingBlobs, MediaTypes.ociManifest), (e: unknown) => e instanceof RegistryError);
      assert.equal(await registry.repositories.exists(at('apps/refused')), false);
    } finally {
      await registry.ctx.meta.close();
      await registry.ctx.hashing.close();
    }
  });
});
