/**
 * Every constraint IAM's and STS's service models declare on the input of an action Berth serves
 * (test/api/model/{iam,sts}-model-constraints.ts, generated from botocore's service-2.json),
 * refused as IAM and STS refuse them: a signed Query request breaking one constraint is a 400
 * ValidationError in an XML ErrorResponse naming the member, and changes nothing. The suite is
 * test/api/model/suite.ts; every action of the models Berth does not serve is InvalidAction.
 */
import { stsActions } from '../../src/http/iam/actions.js';
import { IAM_ACTIONS } from '../../src/http/iam/router.js';
import { IAM_MODEL_CONSTRAINTS, OPERATIONS as IAM_OPERATIONS } from './model/iam-model-constraints.js';
import { IAM_BODIES, IAM_MUTATING, IAM_READS, IAM_SEED, STS_BODIES } from './model/query-requests.js';
import { STS_MODEL_CONSTRAINTS, OPERATIONS as STS_OPERATIONS } from './model/sts-model-constraints.js';
import { type Case, lowerFirstMembers, modelConstraintSuite } from './model/suite.js';

/** Lists' lengths are refused without their items, passwords and tokens without themselves. */
const quotesValue = (k: Case) => k.constraint.type !== 'list' && !/Password|WebIdentityToken/.test(k.constraint.path);

modelConstraintSuite({
  title: 'IAM',
  api: { actions: IAM_ACTIONS, service: 'iam', queryVersion: '2010-05-08' },
  constraints: IAM_MODEL_CONSTRAINTS,
  operations: IAM_OPERATIONS,
  minOperations: 36,
  bodies: IAM_BODIES,
  mutating: IAM_MUTATING,
  seed: IAM_SEED,
  reads: IAM_READS,
  validationType: 'ValidationError',
  quotesValue,
  memberName: lowerFirstMembers,
});

modelConstraintSuite({
  title: 'STS',
  api: { actions: stsActions, service: 'sts', queryVersion: '2011-06-15' },
  constraints: STS_MODEL_CONSTRAINTS,
  operations: STS_OPERATIONS,
  minOperations: 3,
  bodies: STS_BODIES,
  // STS keeps no state a request could change: credentials it issues are not listed anywhere.
  mutating: /(?!)/,
  seed: [],
  reads: [],
  validationType: 'ValidationError',
  quotesValue,
  memberName: lowerFirstMembers,
});
