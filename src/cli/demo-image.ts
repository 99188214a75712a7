/**
 * `berth demo-image DIR`: a first image to push without docker or network. Writes an OCI image
 * layout (what skopeo's `oci:DIR:TAG` reads) holding a small three-layer linux/amd64 image,
 * tagged `latest`, and an index over linux/amd64 and linux/arm64 images, tagged `multi`, which
 * share their base layers with `latest`. The contents are fixed, so the digests are the same on
 * every run: pushing twice shows deduplication, and a re-run rewrites the same layout.
 */
import { buildImageLayout, buildIndexLayout, type LayerEntry, type Platform } from './oci-layout.js';
import type { Command } from './command.js';

const text = (s: string) => Buffer.from(s);

const base: LayerEntry[][] = [
  [{ name: 'etc/' }, { name: 'etc/berth-demo-release', content: text('NAME="Berth demo image"\nVERSION_ID=1\n') }],
  [
    { name: 'usr/' },
    { name: 'usr/share/' },
    { name: 'usr/share/berth-demo/' },
    { name: 'usr/share/berth-demo/hello.txt', content: text('Hello from a Berth demo image. It has files, not programs: push it, pull it, inspect it.\n') },
  ],
];

const platformLayer = (p: Platform): LayerEntry[] => [{ name: 'etc/' }, { name: 'etc/berth-demo-platform', content: text(`${p.os}/${p.architecture}\n`) }];

const amd64: Platform = { os: 'linux', architecture: 'amd64' };
const arm64: Platform = { os: 'linux', architecture: 'arm64' };
const created = '2026-01-01T00:00:00Z';

export const demoImageCommands: Command[] = [
  {
    words: ['demo-image'],
    summary: 'write a small OCI image layout to push: tag latest (3 layers) and multi (amd64 + arm64)',
    details:
      'No container engine or network needed: the layers are built here (tar + gzip). The image\nholds text files, not programs: it is for pushing, pulling and inspecting.\nDIR is created if needed; running it again rewrites the same image (same digests).',
    args: 'DIR',
    minArgs: 1,
    options: {},
    example:
      'berth demo-image ./demo-image\nskopeo copy --dest-tls-verify=false oci:./demo-image:latest docker://localhost:5000/team/web:v1\nskopeo copy --all --dest-tls-verify=false oci:./demo-image:multi docker://localhost:5000/team/web:multi',
    dataDir: 'none',
    async run({ positionals }) {
      const dir = positionals[0]!;
      const options = { layers: 0, layerBytes: 0, created };
      const latest = await buildImageLayout(dir, { ...options, tag: 'latest', platform: amd64, fileLayers: [...base, platformLayer(amd64)] });
      const multi = await buildIndexLayout(dir, { ...options, tag: 'multi', platforms: [amd64, arm64], fileLayers: (p) => [...base, platformLayer(p)] });
      process.stdout.write(
        `wrote an OCI image layout to ${dir}:\n` +
          `  ${dir}:latest  ${latest.manifestDigest}  image, ${latest.layers.length} layers, linux/amd64\n` +
          `  ${dir}:multi   ${multi.indexDigest}  index: linux/amd64, linux/arm64\n` +
          `push it with: skopeo copy --dest-tls-verify=false oci:${dir}:latest docker://localhost:5000/team/web:v1\n`,
      );
      return 0;
    },
  },
];
