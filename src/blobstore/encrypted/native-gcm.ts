/**
 * The native AES-256-GCM opener (native/gcm-open.cc, built into dist/native by
 * scripts/build-native.mjs): deciphers a chunk's pieces straight into memory the caller names (a
 * ring slot), with the OpenSSL the Node runtime itself links. Node's Decipher allocates its output
 * twice per update and the opening task copied it into the ring; measured in isolation (2 GiB of
 * 256 KiB chunks into a SharedArrayBuffer, one thread): 0.46–0.57 CPU-s/GiB that way, 0.08–0.13
 * with this. Optional: when the addon was not built (no C++ compiler), does not load, fails its
 * self-check, or BERTH_NATIVE_CIPHER=off, the opener keeps to Node's crypto and says why here.
 *
 * On a CPU with AVX2, AES-NI, PCLMUL, VAES and VPCLMULQDQ the addon opens a chunk as AES-CTR plus
 * GHASH on 256-bit registers (native/gcm-avx2.h), about twice OpenSSL's GCM there without AVX-512
 * (notes/2026-12-06-s24-ghash.md); create(key, false) keeps to OpenSSL's GCM (config gcmAvx2).
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadCipherAddon } from './cipher-addon.js';

/** An opener keyed with one blob's data key (opaque: the addon's External). */
export type NativeOpener = { readonly __brand: 'NativeOpener' };

export interface NativeGcm {
  /** Whether create() opens with the addon's own AVX2 GCM unless told not to (the CPU has what it needs). */
  readonly avx2: boolean;
  /** `avx2` false: OpenSSL's GCM even where the CPU could run the addon's own (default true). */
  create(dataKey: Uint8Array, avx2?: boolean): NativeOpener;
  /** Starts chunk `index` (nonce and AAD as chunk-format.ts seals them). */
  begin(o: NativeOpener, index: number, final: boolean): void;
  /** Deciphers all of `src` into `dst` at `at`, or, without `dst`, discards it (bytes outside a read's range). */
  update(o: NativeOpener, src: Uint8Array, dst?: Uint8Array, at?: number): void;
  /** Whether the chunk's tag checks. */
  finish(o: NativeOpener, tag: Uint8Array): boolean;
  /** For tests: any nonce and AAD through the AVX2 GCM (throws without it); null when the tag fails. */
  openRaw(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, cipher: Uint8Array, tag: Uint8Array): Uint8Array | null;
}

const ADDON = fileURLToPath(new URL('../../../native/gcm-open.node', import.meta.url));

let state: { gcm: NativeGcm | undefined; why: string | undefined } | undefined;

/** The addon, or undefined (then nativeGcmUnavailable() says why). Loaded once per thread. */
export function nativeGcm(): NativeGcm | undefined {
  state ??= loadNativeGcm();
  return state.gcm;
}

/** Why the native opener is not used, or undefined when it is. */
export function nativeGcmUnavailable(): string | undefined {
  state ??= loadNativeGcm();
  return state.why;
}

/** Loads and checks the addon at `path` (exported for tests: nativeGcm() loads it once). */
export function loadNativeGcm(path = ADDON, env = process.env): { gcm: NativeGcm | undefined; why: string | undefined } {
  const { addon, why } = loadCipherAddon(path, env, selfCheck);
  return { gcm: addon, why };
}

/**
 * A chunk sealed by Node's crypto must open to the same bytes through the addon, in pieces, into
 * shared memory at an offset, on both of its paths; and a wrong tag must not check. Anything
 * else: not used.
 */
function selfCheck(gcm: NativeGcm): string | undefined {
  return checkPath(gcm, false) ?? (gcm.avx2 ? checkPath(gcm, true) : undefined);
}

function checkPath(gcm: NativeGcm, avx2: boolean): string | undefined {
  const path = avx2 ? ' (AVX2 GCM)' : ' (OpenSSL GCM)';
  try {
    const key = randomBytes(32);
    const plain = randomBytes(3000);
    const index = 2 ** 40 + 5;
    const nonce = Buffer.alloc(12);
    nonce.writeBigUInt64BE(BigInt(index), 4);
    const aad = Buffer.alloc(9);
    aad.writeBigUInt64BE(BigInt(index));
    aad[8] = 1;
    const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
    c.setAAD(aad);
    const sealed = Buffer.concat([c.update(plain), c.final()]);
    const tag = c.getAuthTag();
    const out = new Uint8Array(new SharedArrayBuffer(3100));
    const o = gcm.create(key, avx2);
    gcm.begin(o, index, true);
    gcm.update(o, sealed.subarray(0, 7));
    gcm.update(o, sealed.subarray(7, 1000), out, 50);
    gcm.update(o, sealed.subarray(1000), out, 1043);
    if (!gcm.finish(o, tag)) return `a good tag did not check${path}`;
    if (!Buffer.from(out.buffer, 50, 2993).equals(plain.subarray(7))) return `it opened other bytes than Node does${path}`;
    tag[0]! ^= 1;
    gcm.begin(o, index, true);
    gcm.update(o, sealed, out, 0);
    if (gcm.finish(o, tag)) return `a wrong tag checked${path}`;
    return undefined;
  } catch (e) {
    return `${(e as Error).message}${path}`;
  }
}
