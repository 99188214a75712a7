/**
 * The kubelet's side of an image pull: the CRI ImageService (runtime.v1) over containerd's gRPC
 * socket, with the pod's imagePullSecret as the request's AuthConfig. Debian has no `crictl`, so
 * the test speaks the API itself with `@grpc/grpc-js`, from the subset in `cri-image.proto`.
 */
import { credentials, loadPackageDefinition, Metadata, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { join } from 'node:path';
import { repoRoot } from './berth-process.js';
import { HANG_MS } from './wait-for.js';

/** What an imagePullSecret becomes: a user and password, or `auth` (base64 of `user:password`). */
export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
}

export interface CriImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  /** uint64, as a decimal string. */
  size: string;
}

export interface CriImageService {
  /** PullImage; resolves to `image_ref` (containerd answers the image's id, its config digest). */
  pull(image: string, auth?: AuthConfig): Promise<string>;
  /** ImageStatus: the image, or undefined when the runtime has none by that name. */
  status(image: string): Promise<CriImage | undefined>;
  list(): Promise<CriImage[]>;
  remove(image: string): Promise<void>;
  close(): void;
}

/**
 * A refused call as the kubelet logs it: Go's `status.Error` text, `rpc error: code = NotFound
 * desc = ...` (the code's Go name, which is grpc-js's upper-case name in camel case).
 */
export function asKubeletLogs(err: unknown): string {
  const e = err as Partial<ServiceError>;
  if (typeof e.code !== 'number' || typeof e.details !== 'string') throw err;
  const name = status[e.code]!.toLowerCase().replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
  return `rpc error: code = ${name === 'Cancelled' ? 'Canceled' : name} desc = ${e.details}`;
}

type Unary = (req: object, meta: Metadata, opts: { deadline: number }, done: (err: ServiceError | null, res: object) => void) => void;

const definition = loadSync(join(repoRoot, 'test/e2e/helpers/cri-image.proto'), { longs: String, defaults: true });
const { ImageService } = (
  loadPackageDefinition(definition) as unknown as {
    runtime: { v1: { ImageService: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client } };
  }
).runtime.v1;

/** A client of the CRI image service on containerd's socket (a Unix socket path). */
export function criImageService(socket: string): CriImageService {
  const client = new ImageService(`unix://${socket}`, credentials.createInsecure()) as Client & Record<string, Unary>;
  // A pull that never answers fails the test rather than hanging it.
  const call = <T>(method: string, req: object) =>
    new Promise<T>((resolve, reject) =>
      client[method]!(req, new Metadata(), { deadline: Date.now() + HANG_MS }, (err, res) => (err ? reject(err) : resolve(res as T))),
    );
  const spec = (image: string) => ({ image });
  return {
    pull: async (image, auth) => (await call<{ imageRef: string }>('PullImage', { image: spec(image), auth })).imageRef,
    status: async (image) => (await call<{ image: CriImage | null }>('ImageStatus', { image: spec(image) })).image ?? undefined,
    list: async () => (await call<{ images: CriImage[] }>('ListImages', {})).images,
    remove: async (image) => void (await call('RemoveImage', { image: spec(image) })),
    close: () => client.close(),
  };
}
