/**
 * The native AES-256-GCM sealer (native/gcm-seal.cc, built into dist/native by
 * scripts/build-native.mjs): seals a chunk of the stored format into a buffer the caller names,
 * with one OpenSSL context per append keyed once. Node's way costs a cipher object per chunk
 * (createCipheriv with its key schedule, setAAD, update into a fresh buffer, final, getAuthTag):
 * in the byte thread's profile of a 512 MiB upload those calls and the output's release took more
 * samples than the AES itself. Optional: when the addon was not built (no C++ compiler), does not
 * load, fails its self-check, or BERTH_NATIVE_CIPHER=off, the byte threads seal with Node's crypto
 * (chunk-format.ts's construction, the same bytes).
 *
 * On a CPU with AVX2, AES-NI, PCLMUL, VAES and VPCLMULQDQ the addon seals a chunk as AES-CTR and
 * then GHASH over the ciphertext on 256-bit registers (native/gcm-avx2.h); create(key, false)
 * keeps to OpenSSL's GCM (config gcmAvx2).
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadCipherAddon } from './cipher-addon.js';

/** A sealer keyed with one blob's data key (opaque: the addon's External). */
export type NativeSealer = { readonly __brand: 'NativeSealer' };

export interface NativeSeal {
  /** Whether create() seals with the addon's own AVX2 GCM unless told not to (the CPU has what it needs). */
  readonly avx2: boolean;
  /** `avx2` false: OpenSSL's GCM even where the CPU could run the addon's own (default true). */
  create(dataKey: Uint8Array, avx2?: boolean): NativeSealer;
  /** Seals `src` as chunk `index` into `dst` at `at`: the ciphertext, then its 16-byte tag. */
  seal(s: NativeSealer, index: number, final: boolean, src: Uint8Array, dst: Uint8Array, at: number): void;
  /** Starts chunk `index` to be sealed in pieces (streamed-chunk.ts); a begin starts its chunk over. */
  begin(s: NativeSealer, index: number, final: boolean): void;
  /** Enciphers `src` into `dst` at `at`, after the chunk's bytes before it (`dst` may be `src`). */
  update(s: NativeSealer, src: Uint8Array, dst: Uint8Array, at: number): void;
  /** Writes the 16-byte tag of the bytes enciphered since begin into `dst` at `at`. */
  finish(s: NativeSealer, dst: Uint8Array, at: number): void;
}

const ADDON = fileURLToPath(new URL('../../../native/gcm-seal.node', import.meta.url));

let state: { seal: NativeSeal | undefined; why: string | undefined } | undefined;

/** The addon, or undefined (then nativeSealUnavailable() says why). Loaded once per thread. */
export function nativeSeal(): NativeSeal | undefined {
  state ??= loadNativeSeal();
  return state.seal;
}

/** Why the native sealer is not used, or undefined when it is. */
export function nativeSealUnavailable(): string | undefined {
  state ??= loadNativeSeal();
  return state.why;
}

/** Loads and checks the addon at `path` (exported for tests: nativeSeal() loads it once). */
export function loadNativeSeal(path = ADDON, env = process.env): { seal: NativeSeal | undefined; why: string | undefined } {
  const { addon, why } = loadCipherAddon(path, env, selfCheck);
  return { seal: addon, why };
}

/** A chunk sealed the way chunk-format.ts does it, with Node's crypto: ciphertext, then tag. */
export function nodeSealed(key: Uint8Array, index: number, final: boolean, plain: Uint8Array): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(BigInt(index), 4);
  const aad = Buffer.alloc(9);
  aad.writeBigUInt64BE(BigInt(index));
  aad[8] = final ? 1 : 0;
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
  c.setAAD(aad);
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

/**
 * Chunks sealed by the addon, one context for several, at an offset of shared memory, must be the
 * bytes Node's crypto seals, final or not, empty or not, on both of its paths; anything else: not used.
 */
function selfCheck(native: NativeSeal): string | undefined {
  return checkPath(native, false) ?? (native.avx2 ? checkPath(native, true) : undefined);
}

function checkPath(native: NativeSeal, avx2: boolean): string | undefined {
  const path = avx2 ? ' (AVX2 GCM)' : ' (OpenSSL GCM)';
  try {
    const key = randomBytes(32);
    const s = native.create(key, avx2);
    const out = new Uint8Array(new SharedArrayBuffer(4000));
    for (const [index, final, size] of [
      [2 ** 40 + 5, false, 3000],
      [7, true, 1000],
      [0, true, 0],
    ] as const) {
      const plain = randomBytes(size);
      native.seal(s, index, final, plain, out, 50);
      const expected = nodeSealed(key, index, final, plain);
      if (!Buffer.from(out.buffer, 50, size + 16).equals(expected)) return `chunk ${index} sealed to other bytes than Node's${path}`;
      // The same chunk in pieces of odd sizes (a partial GCM block carried across calls).
      out.fill(0);
      native.begin(s, index, final);
      for (let at = 0; at < size; at += 77) native.update(s, plain.subarray(at, at + 77), out, 50 + at);
      native.finish(s, out, 50 + size);
      if (!Buffer.from(out.buffer, 50, size + 16).equals(expected)) return `chunk ${index} sealed in pieces to other bytes than Node's${path}`;
    }
    return undefined;
  } catch (e) {
    return `${(e as Error).message}${path}`;
  }
}
