/**
 * `berth tls init`: a local CA and a server certificate signed by it, for development, and how
 * to make each client trust the CA. A second run reuses the CA (clients keep trusting it) and
 * reissues the server certificate, which a running `berth serve` picks up by itself.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Command } from './command.js';
import { createCertificateAuthority, createServerCertificate, type Pem } from '../tls/dev-certificates.js';

const DEFAULT_HOSTS = ['localhost', '127.0.0.1', '::1'];

export const tlsCommands: Command[] = [
  {
    words: ['tls', 'init'],
    summary: 'write a development CA and a server certificate, and say how clients trust it',
    details:
      'A second run keeps the CA (clients keep trusting it) and reissues the server certificate,\nwhich a running `berth serve` picks up by itself. Keys are owner-only.',
    options: {
      host: {
        type: 'string',
        multiple: true,
        value: 'NAME',
        help: 'a host name or IP the certificate is for; repeat for more (default localhost, 127.0.0.1, ::1)',
      },
      dir: { type: 'string', value: 'DIR', help: 'where to write the files (default <data-dir>/tls)' },
      config: { type: 'string', value: 'FILE', help: 'JSON config file (BERTH_CONFIG)' },
      'data-dir': { type: 'string', value: 'DIR', help: 'the data directory (BERTH_DATA_DIR, default ./data)' },
      port: { type: 'string', value: 'N', help: 'the port the printed commands name (BERTH_PORT, default 5000)' },
    },
    example: 'berth tls init --host registry.internal --host 10.0.0.5\nberth serve --tls-cert data/tls/server.crt --tls-key data/tls/server.key',
    dataDir: 'none',
    run: async ({ values, config }) => tlsInit(config, typeof values.dir === 'string' ? values.dir : undefined, Array.isArray(values.host) ? values.host : []),
  },
];

async function tlsInit(config: Config, dirOption: string | undefined, hostOption: string[]): Promise<number> {
  const dir = resolve(dirOption ?? join(config.dataDir, 'tls'));
  const hosts = hostOption.length > 0 ? hostOption : DEFAULT_HOSTS;
  const files = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'server.crt'),
    key: join(dir, 'server.key'),
    // Only the CA: skopeo, podman and docker read every *.crt in a cert dir as a CA and want a
    // client certificate for every *.key, so the keys must not sit beside it.
    trustDir: join(dir, 'trust'),
  };
  const reused = existsSync(files.caCert) && existsSync(files.caKey);
  const ca: Pem = reused ? { cert: readFileSync(files.caCert, 'utf8'), key: readFileSync(files.caKey, 'utf8') } : createCertificateAuthority();
  const server = createServerCertificate(ca, hosts);
  mkdirSync(files.trustDir, { recursive: true, mode: 0o700 });
  if (!reused) {
    writeAtomically(files.caKey, ca.key, 0o600);
    writeAtomically(files.caCert, ca.cert, 0o644);
  }
  writeAtomically(join(files.trustDir, 'ca.crt'), ca.cert, 0o644);
  // The key first: a server watching the pair sees the new certificate only once its key is there.
  writeAtomically(files.key, server.key, 0o600);
  writeAtomically(files.cert, server.cert, 0o644);

  process.stdout.write(instructions(files, hosts, config.port, reused));
  return 0;
}

/** Renamed into place, so that a reader (a watching server) never sees half a file. */
function writeAtomically(path: string, content: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function instructions(
  f: { caCert: string; caKey: string; cert: string; key: string; trustDir: string },
  hosts: string[],
  port: number,
  reused: boolean,
): string {
  const host = hosts[0]!.includes(':') && !hosts[0]!.startsWith('[') ? `[${hosts[0]}]` : hosts[0]!;
  const hostPort = `${host}:${port}`;
  return `${reused ? 'reused the CA' : 'wrote a new CA'}  ${f.caCert} (key ${f.caKey}, owner-only)
wrote the server certificate ${f.cert} (key ${f.key}, owner-only) for ${hosts.join(', ')}

serve with it:
  berth serve --tls-cert ${f.cert} --tls-key ${f.key}
  (or BERTH_TLS_CERT / BERTH_TLS_KEY, or tlsCert / tlsKey in the config file)

trust the CA (development only: whoever holds ${f.caKey} can impersonate any site to these clients):
  docker:         sudo mkdir -p /etc/docker/certs.d/${hostPort} && sudo cp ${f.caCert} /etc/docker/certs.d/${hostPort}/ca.crt
  skopeo, podman: --cert-dir ${f.trustDir}   (skopeo copy: --src-cert-dir / --dest-cert-dir)
  AWS CLI:        --ca-bundle ${f.caCert}   or   export AWS_CA_BUNDLE=${f.caCert}
  Node, curl:     NODE_EXTRA_CA_CERTS=${f.caCert}   curl --cacert ${f.caCert}
  e.g. aws ecr get-login-password --endpoint-url https://${hostPort} --ca-bundle ${f.caCert} | skopeo login -u AWS --password-stdin --cert-dir ${f.trustDir} ${hostPort}
`;
}
