/** One constraint of a service model on an input member, as scripts/ecr-model-constraints.mjs writes it. */
export interface ModelConstraint {
  op: string;
  /** `a.b`, `[]` for a list's items. */
  path: string;
  shape: string;
  type: string;
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
}
