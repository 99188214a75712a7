/**
 * The policy checks the IAM Query API needs. Interim: a structural check of identity policy
 * documents and the ECR managed policies by their real ARNs, until src/iam's parser and catalogue
 * take over.
 */
import { QueryError } from '../http/iam/query.js';

const MANAGED = new Set([
  'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly',
  'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser',
  'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess',
  'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly',
]);

export function isManagedPolicy(arn: string): boolean {
  return MANAGED.has(arn);
}

export function checkIdentityPolicy(document: string): void {
  let doc: unknown;
  try {
    doc = JSON.parse(document);
  } catch {
    throw new QueryError('MalformedPolicyDocument', 'Syntax errors in policy.');
  }
  const d = doc as { Statement?: unknown };
  if (typeof doc !== 'object' || doc === null || d.Statement === undefined || document.length > 6144) {
    throw new QueryError('MalformedPolicyDocument', 'The policy document is malformed.');
  }
}
