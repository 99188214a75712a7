/**
 * Which registry, inside Berth: one account's registry in one region (design decision 5; an ECR
 * Public registry is the pseudo-region `public`, its account an alias or an account id).
 *
 * On ECR's wire a `registryId` is a bare 12-digit account. The key is not that, and the type
 * keeps the two apart both ways: a string is not a key (build one with registryKey, or
 * parseRegistryKey from storage), and a key is not a string (accountOf gives the wire's
 * registryId, registryKeyText the stored form). At run time a key is its stored text,
 * "account:region", so keys compare with === and serve as Map keys, and what the metadata store
 * holds is unchanged.
 */

export type RegistryKey = { readonly __registryKey: unique symbol };

// Neither part may hold the separator, so the stored text splits back into the same two parts.
const PART_RE = /^[^:\s]+$/;

export function registryKey(accountId: string, region: string): RegistryKey {
  if (!PART_RE.test(accountId) || !PART_RE.test(region)) {
    throw new Error(`not a registry key: account ${JSON.stringify(accountId)}, region ${JSON.stringify(region)}`);
  }
  return `${accountId}:${region}` as unknown as RegistryKey;
}

/** A key from its stored text ("account:region"); throws on anything else. */
export function parseRegistryKey(text: string): RegistryKey {
  const parts = text.split(':');
  if (parts.length !== 2) throw new Error(`not a stored registry key: ${JSON.stringify(text)}`);
  return registryKey(parts[0]!, parts[1]!);
}

/** The stored form of a key: what the metadata store's registry_id columns and policy scopes hold. */
export function registryKeyText(key: RegistryKey): string {
  return key as unknown as string;
}

/** The account of a registry key: ECR's registryId on the wire. */
export function accountOf(key: RegistryKey): string {
  const text = registryKeyText(key);
  return text.slice(0, text.indexOf(':'));
}

export function regionOf(key: RegistryKey): string {
  const text = registryKeyText(key);
  return text.slice(text.indexOf(':') + 1);
}

/** What the stored text of every key of one account starts with (to select an account's rows). */
export function storedAccountPrefix(accountId: string): string {
  return `${accountId}:`;
}
