/** One image: its details, layers and manifest, referrers (signatures, SBOMs), scan findings; rescan and delete. */
import { ecr } from '../api';
import { ConfirmButton, CopyBlock, ErrorMessage, Loading, SeverityCounts } from '../components/common';
import { FindingsTable, findingRows } from '../components/Findings';
import type { ImageDetail, Manifest, Referrer, ScanFindings } from '../ecr-types';
import { bytes, shortDigest, when } from '../format';
import { onSuccess, useAction, useLoad } from '../hooks';
import { Link, useNav } from '../router';
import { useCan } from '../session';
import { describeType, platformsOf } from './Images';

const ALL_MEDIA_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
];

interface ImageData {
  detail: ImageDetail | undefined;
  manifest: Manifest | undefined;
  raw: string | undefined;
  referrers: Referrer[];
}

async function loadImage(name: string, digest: string): Promise<ImageData> {
  const imageIds = [{ imageDigest: digest }];
  const [described, got, refs] = await Promise.all([
    ecr<{ imageDetails?: ImageDetail[] }>('DescribeImages', { repositoryName: name, imageIds }),
    ecr<{ images?: { imageManifest: string }[] }>('BatchGetImage', { repositoryName: name, imageIds, acceptedMediaTypes: ALL_MEDIA_TYPES }),
    ecr<{ referrers?: Referrer[] }>('ListImageReferrers', { repositoryName: name, subjectId: { imageDigest: digest } }).catch(() => ({ referrers: [] })),
  ]);
  const raw = got.images?.[0]?.imageManifest;
  return { detail: described.imageDetails?.[0], raw, manifest: raw ? (JSON.parse(raw) as Manifest) : undefined, referrers: refs.referrers ?? [] };
}

export function ImagePage({ name, digest }: { name: string; digest: string }) {
  const { navigate } = useNav();
  const image = useLoad(() => loadImage(name, digest), `${name}@${digest}`);
  const findings = useLoad(
    () =>
      ecr<ScanFindings>('DescribeImageScanFindings', { repositoryName: name, imageId: { imageDigest: digest }, maxResults: 1000 }).catch((err: unknown) => {
        if (err instanceof Error && /ScanNotFound|No scan/.test(err.message)) return undefined;
        throw err;
      }),
    `${name}@${digest}`,
  );
  const can = useCan([
    { action: 'ecr:BatchDeleteImage', resource: name },
    { action: 'ecr:StartImageScan', resource: name },
  ]);
  const del = useAction();
  const scan = useAction();
  const d = image.data?.detail;
  const m = image.data?.manifest;

  return (
    <>
      <p className="crumbs">
        <Link to={{ page: 'repositories' }}>Repositories</Link> / <Link to={{ page: 'repository', name, tab: 'images' }}>{name}</Link> /{' '}
        <span>{shortDigest(digest)}</span>
      </p>
      <div className="page-head">
        <h1>
          {name}
          {d?.imageTags?.[0] ? `:${d.imageTags[0]}` : `@${shortDigest(digest)}`}
        </h1>
        <div className="actions" aria-busy={!can.ready}>
          {can('ecr:StartImageScan', name) && (
            <button
              type="button"
              disabled={scan.busy}
              onClick={() =>
                void scan.run(() => ecr('StartImageScan', { repositoryName: name, imageId: { imageDigest: digest } })).then((ok) => ok && findings.reload())
              }
            >
              Scan now
            </button>
          )}
          {can('ecr:BatchDeleteImage', name) && (
            <ConfirmButton
              label="Delete image"
              title="Delete this image?"
              confirmLabel="Delete"
              onConfirm={() =>
                del
                  .run(async () => {
                    const res = await ecr<{ failures?: { failureReason?: string }[] }>('BatchDeleteImage', {
                      repositoryName: name,
                      imageIds: [{ imageDigest: digest }],
                    });
                    if (res.failures?.length) throw new Error(res.failures.map((f) => f.failureReason).join('; '));
                  })
                  .then(onSuccess(() => navigate({ page: 'repository', name, tab: 'images' })))
              }
            >
              <p className="mono">{digest}</p>
              <p>Its tags ({d?.imageTags?.join(', ') || 'none'}) go with it.</p>
              <ErrorMessage error={del.error} />
            </ConfirmButton>
          )}
        </div>
      </div>
      <ErrorMessage error={image.error ?? scan.error} />
      {image.loading && !image.data && <Loading what="the image" />}
      {d && (
        <dl className="facts">
          <dt>Digest</dt>
          <dd className="mono">{d.imageDigest}</dd>
          <dt>Tags</dt>
          <dd>{d.imageTags?.join(', ') || 'untagged'}</dd>
          <dt>Type</dt>
          <dd>{describeType(d)}</dd>
          <dt>Media type</dt>
          <dd className="mono">{d.imageManifestMediaType}</dd>
          <dt>Size</dt>
          <dd>{bytes(d.imageSizeInBytes)}</dd>
          <dt>Pushed at</dt>
          <dd>{when(d.imagePushedAt)}</dd>
          <dt>Last pulled</dt>
          <dd>{when(d.lastRecordedPullTime)}</dd>
          <dt>Scan</dt>
          <dd>
            {d.imageScanStatus?.status ?? 'not scanned'} <SeverityCounts counts={d.imageScanFindingsSummary?.findingSeverityCounts} />
          </dd>
        </dl>
      )}
      {m?.manifests && (
        <section aria-labelledby="platforms-title">
          <h2 id="platforms-title">Platforms</h2>
          <ul>
            {m.manifests.map((p, i) => (
              <li key={p.digest}>
                <Link to={{ page: 'image', name, digest: p.digest }}>{platformsOf({ manifests: [p] })[0] ?? `manifest ${i + 1}`}</Link>{' '}
                <span className="mono muted">{shortDigest(p.digest)}</span>
              </li>
            ))}
          </ul>
        </section>
      )}
      {m?.layers && (
        <section aria-labelledby="layers-title">
          <h2 id="layers-title">Layers</h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>#</th>
                  <th>Digest</th>
                  <th>Media type</th>
                  <th>Size</th>
                </tr>
              </thead>
              <tbody>
                {m.layers.map((l, i) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: a layer may repeat in a manifest; its place is its identity
                  <tr key={`${i}-${l.digest}`}>
                    <td>{i + 1}</td>
                    <td className="mono" title={l.digest}>
                      {shortDigest(l.digest)}
                    </td>
                    <td className="mono">{l.mediaType}</td>
                    <td>{bytes(l.size)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      {image.data && (
        <section aria-labelledby="referrers-title">
          <h2 id="referrers-title">Referrers</h2>
          {image.data.referrers.length === 0 ? (
            <p className="muted">No signatures, SBOMs or other artifacts refer to this image.</p>
          ) : (
            <ul>
              {image.data.referrers.map((r) => (
                <li key={r.digest}>
                  <Link to={{ page: 'image', name, digest: r.digest }}>{r.artifactType ?? r.mediaType ?? 'artifact'}</Link>{' '}
                  <span className="mono muted">{shortDigest(r.digest)}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
      <section aria-labelledby="findings-title">
        <h2 id="findings-title">Scan findings</h2>
        <ErrorMessage error={findings.error} />
        {findings.loading && !findings.data ? (
          <Loading what="findings" />
        ) : findings.data ? (
          <>
            <p>
              Status: <span className="status">{findings.data.imageScanStatus?.status}</span>
              {findings.data.imageScanStatus?.description ? ` — ${findings.data.imageScanStatus.description.replace(/\.?$/, '.')}` : ''}
              {findings.data.imageScanFindings?.imageScanCompletedAt ? ` Completed ${when(findings.data.imageScanFindings.imageScanCompletedAt)}.` : ''}
            </p>
            <FindingsTable rows={findingRows(findings.data)} />
          </>
        ) : (
          <p className="muted">This image has not been scanned.</p>
        )}
      </section>
      {image.data?.raw && (
        <section aria-labelledby="manifest-title">
          <h2 id="manifest-title">Manifest</h2>
          <CopyBlock label="Manifest" text={JSON.stringify(JSON.parse(image.data.raw), null, 2)} />
        </section>
      )}
    </>
  );
}
