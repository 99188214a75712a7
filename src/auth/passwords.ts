/**
 * Console passwords at rest: scrypt (memory-hard, in node:crypto) with a random 16-byte salt per
 * password, so equal passwords hash apart and a dump of the database must be attacked one hash
 * at a time. Unlike access key secrets (access-keys.ts), a password is only ever compared, so
 * it is hashed, never sealed. scrypt runs on libuv's thread pool, not on the event loop.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** 2^15 × 8 × 128 B = 32 MiB and some tens of milliseconds per hash: OWASP's minimum for scrypt. */
const PARAMS = { N: 2 ** 15, r: 8, p: 1 };
const KEY_BYTES = 32;
const SALT_BYTES = 16;

/** IAM's bounds and alphabet: tab, LF, CR and U+0020 to U+00FF; 128 characters at most. */
const ALPHABET = /^[\t\n\r\u0020-\u00ff]+$/;
export const MAX_PASSWORD_LENGTH = 128;
export const MIN_PASSWORD_LENGTH = 8;

function derive(password: string, salt: Buffer, o: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...o, maxmem: 128 * o.N * o.r * 2 };
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (e, k) => (e ? reject(e) : resolve(k))));
}

/** `scrypt$<N>$<r>$<p>$<salt b64url>$<key b64url>`: the parameters travel with the hash, so they can grow. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** A hash of nothing anyone knows, checked when there is no profile, so both answers cost the same. */
let decoy: Promise<string> | undefined;

/**
 * Whether `password` matches `hash` (compared in constant time). With no hash (no such user or
 * no profile), a decoy is checked instead and false returned, so the time taken does not tell.
 */
export async function verifyPassword(password: string, hash: string | undefined): Promise<boolean> {
  const bounded = password.length <= MAX_PASSWORD_LENGTH ? password : '';
  if (hash === undefined) {
    decoy ??= hashPassword(randomBytes(18).toString('base64'));
    await verifyPassword(bounded, await decoy);
    return false;
  }
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([\w-]+)\$([\w-]+)$/.exec(hash);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Parameters come from the database: bounded, so a tampered row cannot make a hash cost minutes.
  if (N > 2 ** 20 || r > 16 || p > 4) return false;
  const expected = Buffer.from(m[5]!, 'base64url');
  const key = await derive(bounded, Buffer.from(m[4]!, 'base64url'), { N, r, p });
  return expected.length === key.length && timingSafeEqual(expected, key) && bounded === password;
}

/**
 * Why a new password is refused, or undefined when it is acceptable: IAM's length and alphabet,
 * and its default password policy's rule of three character kinds out of four (upper case,
 * lower case, digits, symbols).
 */
export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    return `Password should have a length of ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters.`;
  }
  if (!ALPHABET.test(password)) return 'Password may only hold tab, line feed, carriage return and the characters U+0020 to U+00FF.';
  const kinds = [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  if (kinds < 3) return 'Password should include at least three of: upper case letters, lower case letters, numbers, symbols.';
  return undefined;
}
