/**
 * A repository's images (DescribeImages, a page at a time): tags, digest, size, pushed and pulled
 * times, artifact type, an index's platforms (from its manifest), scan status and severity counts;
 * selected images are deleted with BatchDeleteImage after a confirmation.
 */
import { useState } from 'react';
import { ecr } from '../api';
import { ConfirmButton, ErrorMessage, Loading, SeverityCounts } from '../components/common';
import type { ImageDetail, Manifest } from '../ecr-types';
import { bytes, shortDigest, when } from '../format';
import { useAction, useLoad } from '../hooks';
import { Link } from '../router';
import { useCan } from '../session';

const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];

export function isIndex(mediaType: string | undefined): boolean {
  return mediaType !== undefined && INDEX_TYPES.includes(mediaType);
}

export function platformsOf(m: Manifest): string[] {
  return (m.manifests ?? [])
    .map((d) => d.platform)
    .filter((p) => p?.os && p.architecture && p.os !== 'unknown')
    .map((p) => [p!.os, p!.architecture, p!.variant].filter(Boolean).join('/'));
}

interface ImagesPage {
  images: ImageDetail[];
  nextToken?: string;
  platforms: Record<string, string[]>;
}

async function loadPage(name: string, token: string | undefined): Promise<ImagesPage> {
  const res = await ecr<{ imageDetails?: ImageDetail[]; nextToken?: string }>('DescribeImages', {
    repositoryName: name,
    maxResults: 100,
    ...(token && { nextToken: token }),
  });
  const images = (res.imageDetails ?? []).sort((a, b) => (b.imagePushedAt ?? 0) - (a.imagePushedAt ?? 0));
  const indexes = images.filter((i) => isIndex(i.imageManifestMediaType));
  const platforms: Record<string, string[]> = {};
  if (indexes.length > 0) {
    const got = await ecr<{ images?: { imageId: { imageDigest: string }; imageManifest: string }[] }>('BatchGetImage', {
      repositoryName: name,
      imageIds: indexes.map((i) => ({ imageDigest: i.imageDigest })),
      acceptedMediaTypes: INDEX_TYPES,
    });
    for (const img of got.images ?? []) platforms[img.imageId.imageDigest] = platformsOf(JSON.parse(img.imageManifest) as Manifest);
  }
  return { images, platforms, ...(res.nextToken && { nextToken: res.nextToken }) };
}

export function ImagesTab({ name }: { name: string }) {
  const can = useCan([{ action: 'ecr:BatchDeleteImage', resource: name }]);
  const [tokens, setTokens] = useState<(string | undefined)[]>([undefined]);
  const page = tokens.length - 1;
  const list = useLoad(() => loadPage(name, tokens[page]), `${name}:${page}:${tokens[page] ?? ''}`);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const del = useAction();
  const mayDelete = can('ecr:BatchDeleteImage', name);

  const toggle = (digest: string, on: boolean) =>
    setSelected((s) => {
      const n = new Set(s);
      if (on) n.add(digest);
      else n.delete(digest);
      return n;
    });

  if (list.loading && !list.data) return <Loading what="images" />;
  const images = list.data?.images ?? [];
  return (
    <section>
      <ErrorMessage error={list.error} />
      <div className="toolbar" aria-busy={!can.ready}>
        {mayDelete && (
          <ConfirmButton
            label="Delete selected images"
            title={`Delete ${selected.size} image${selected.size === 1 ? '' : 's'}?`}
            confirmLabel="Delete"
            disabled={selected.size === 0}
            onConfirm={() =>
              del
                .run(async () => {
                  const res = await ecr<{ failures?: { failureReason?: string }[] }>('BatchDeleteImage', {
                    repositoryName: name,
                    imageIds: [...selected].map((imageDigest) => ({ imageDigest })),
                  });
                  const failed = res.failures ?? [];
                  if (failed.length > 0) throw new Error(failed.map((f) => f.failureReason).join('; '));
                })
                .then((ok) => {
                  if (ok) {
                    setSelected(new Set());
                    list.reload();
                  }
                  return ok;
                })
            }
          >
            <p>These images and their tags go; nothing else that shares their layers is affected.</p>
            <ul className="mono">
              {[...selected].map((d) => (
                <li key={d}>{shortDigest(d)}</li>
              ))}
            </ul>
            <ErrorMessage error={del.error} />
          </ConfirmButton>
        )}
      </div>
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Images of {name}</caption>
          <thead>
            <tr>
              {mayDelete && (
                <th>
                  <span className="sr-only">Select</span>
                </th>
              )}
              <th>Tags</th>
              <th>Digest</th>
              <th>Size</th>
              <th>Pushed at</th>
              <th className="wide">Last pulled</th>
              <th className="wide">Artifact type</th>
              <th>Scan</th>
            </tr>
          </thead>
          <tbody>
            {images.map((i) => {
              const plats = list.data?.platforms[i.imageDigest];
              return (
                <tr key={i.imageDigest}>
                  {mayDelete && (
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Select ${i.imageTags?.join(', ') || shortDigest(i.imageDigest)}`}
                        checked={selected.has(i.imageDigest)}
                        onChange={(e) => toggle(i.imageDigest, e.target.checked)}
                      />
                    </td>
                  )}
                  <td>
                    {i.imageTags?.length ? (
                      i.imageTags.map((t) => (
                        <span key={t} className="tag">
                          {t}
                        </span>
                      ))
                    ) : (
                      <span className="muted">untagged</span>
                    )}
                  </td>
                  <td className="mono">
                    <Link to={{ page: 'image', name, digest: i.imageDigest }} title={i.imageDigest}>
                      {shortDigest(i.imageDigest)}
                    </Link>
                  </td>
                  <td>{bytes(i.imageSizeInBytes)}</td>
                  <td>{when(i.imagePushedAt)}</td>
                  <td className="wide">{when(i.lastRecordedPullTime)}</td>
                  <td className="wide">
                    {describeType(i)}
                    {plats && plats.length > 0 && <div className="muted small">{plats.join(', ')}</div>}
                  </td>
                  <td>
                    <span className="status">{i.imageScanStatus?.status ?? '—'}</span>{' '}
                    <SeverityCounts counts={i.imageScanFindingsSummary?.findingSeverityCounts} />
                  </td>
                </tr>
              );
            })}
            {images.length === 0 && (
              <tr>
                <td colSpan={8} className="muted">
                  No images yet: see “View push commands”.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages of images">
        <button type="button" disabled={page === 0} onClick={() => setTokens((t) => t.slice(0, -1))}>
          Previous page
        </button>
        <span>Page {page + 1}</span>
        <button type="button" disabled={!list.data?.nextToken} onClick={() => setTokens((t) => [...t, list.data?.nextToken])}>
          Next page
        </button>
      </nav>
    </section>
  );
}

/** "Image", "Image index" or the artifact's own type (a signature, an SBOM, a Helm chart). */
export function describeType(i: ImageDetail): string {
  if (isIndex(i.imageManifestMediaType)) return 'Image index';
  const a = i.artifactMediaType;
  if (!a || /image\.config|container\.image/.test(a)) return 'Image';
  return a;
}
