/**
 * Validating EventBridge request bodies against its model, as AWS JSON services answer: a member
 * of the wrong JSON type is a SerializationException; a missing member or a value outside its
 * constraints is a ValidationException in AWS's words. Values are never quoted back (a
 * connection's are secrets). Unknown members are ignored.
 */
import { z } from 'zod';
import { EventsCodes } from '../../core/errors.js';
import { EcrError } from '../ecr/protocol.js';
import { integer, patterned, text } from '../model/constraints.js';
import { parseJsonInput } from '../model/json.js';

export { integer, list, oneOf, text } from '../model/constraints.js';

export function parseEventsInput<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  return parseJsonInput(schema, body, (kind, message) => new EcrError(kind === 'validation' ? EventsCodes.Validation : EventsCodes.Serialization, message));
}

/** Rule, target, connection and API destination names. */
export const name = (max: number) => patterned(1, max, '[\\.\\-_A-Za-z0-9]+');
export const busName = text(1, 1600).optional();
export const nextToken = text(1, 2048).optional();
export const limit = integer(1, 100).optional();

const parameter = z.object({ Key: text(0, 512), Value: text(0, 512), IsValueSecret: z.boolean().optional() });
export const httpParameters = z
  .object({
    HeaderParameters: z.array(parameter).max(100).optional(),
    QueryStringParameters: z.array(parameter).max(100).optional(),
    BodyParameters: z.array(parameter).max(100).optional(),
  })
  .optional();
