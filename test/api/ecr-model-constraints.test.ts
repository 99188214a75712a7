/**
 * Every constraint ECR's service model declares on the input of an operation Berth serves
 * (test/api/model/ecr-model-constraints.ts, generated from botocore's service-2.json), refused as
 * ECR refuses it: the suite is test/api/model/suite.ts.
 */
import { ECR_API } from '../../src/http/ecr/router.js';
import { MODEL_CONSTRAINTS, OPERATIONS } from './model/ecr-model-constraints.js';
import { BASE_BODIES, MUTATING, READS, SEED } from './model/requests.js';
import { literal, modelConstraintSuite } from './model/suite.js';

modelConstraintSuite({
  title: 'ECR',
  api: ECR_API,
  constraints: MODEL_CONSTRAINTS,
  operations: OPERATIONS,
  minOperations: 40,
  bodies: BASE_BODIES,
  mutating: MUTATING,
  seed: SEED,
  reads: READS,
  exception: (k, member) =>
    // ecr-api.md §5: ECR answers a name's pattern with InvalidParameterException, quoting its own stricter expression.
    k.kind === 'pattern' && k.constraint.shape === 'RepositoryName'
      ? {
          type: 'InvalidParameterException',
          message: new RegExp(`^Invalid parameter at '${literal(member)}' failed to satisfy constraint: 'must satisfy regular expression `),
        }
      : undefined,
});
