/**
 * Attaching a managed policy to a user, role or group: AWS's own (the ones Berth keeps) as a row,
 * the account's own only if it exists at that instant — the store's check and insert are one
 * statement, ordered with DeletePolicy's transaction, so a policy being deleted is either found
 * attached (DeleteConflict) or not found here (NoSuchEntity), never attached once deleted (where a
 * policy made again under its name would inherit the attachment).
 */
import { IamCodes } from '../core/errors.js';
import { managedPolicy } from '../iam/managed.js';
import { IdentityError } from './identity-admin.js';

export async function attachManaged(arn: string, store: { put(): Promise<void>; attachCustomer(): Promise<boolean> }): Promise<void> {
  if (managedPolicy(arn) !== undefined) return store.put();
  if (!(await store.attachCustomer())) throw new IdentityError(IamCodes.NoSuchEntity, `Policy ${arn.slice(0, 2048)} does not exist or is not attachable.`);
}
