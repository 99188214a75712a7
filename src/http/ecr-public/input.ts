/** ECR Public's input rules beyond ECR's: shorter names, catalog data. */
import { z } from 'zod';
import { NAME_RULE } from '../ecr/input.js';

export const publicRepositoryName = z
  .string()
  .min(2)
  .max(205)
  .refine(...NAME_RULE);

const MAX_LOGO_BYTES = 512_000;
const ARCHITECTURES = ['ARM', 'ARM 64', 'x86', 'x86-64'] as const;
const OPERATING_SYSTEMS = ['Linux', 'Windows'] as const;

function oneOf(values: readonly string[]): [(v: string) => boolean, { message: string }] {
  return [(v) => values.includes(v), { message: `must be one of: ${values.join(', ')}` }];
}

export const catalogDataInput = z
  .object({
    description: z.string().max(1024).optional(),
    // Strings in the model; which ones are known is ECR Public's own rule (InvalidParameterException).
    architectures: z
      .array(
        z
          .string()
          .min(1)
          .max(50)
          .refine(...oneOf(ARCHITECTURES)),
      )
      .max(50)
      .optional(),
    operatingSystems: z
      .array(
        z
          .string()
          .min(1)
          .max(50)
          .refine(...oneOf(OPERATING_SYSTEMS)),
      )
      .max(50)
      .optional(),
    logoImageBlob: z
      .string()
      .max(Math.ceil(MAX_LOGO_BYTES / 3) * 4)
      .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
      .optional(),
    aboutText: z.string().max(25600).optional(),
    usageText: z.string().max(25600).optional(),
  })
  .strict();
