/** ECR's lifecycle policy JSON, and the editable form of one rule that writes it. */

export interface RuleForm {
  rulePriority: number;
  description: string;
  tagStatus: 'tagged' | 'untagged' | 'any';
  /** Comma-separated; tagPatternList when any has a '*', else tagPrefixList. */
  tags: string;
  countType: 'imageCountMoreThan' | 'sinceImagePushed';
  countNumber: number;
}

export function newRule(priority: number): RuleForm {
  return { rulePriority: priority, description: '', tagStatus: 'untagged', tags: '', countType: 'sinceImagePushed', countNumber: 14 };
}

export function policyText(rules: RuleForm[]): string {
  return JSON.stringify(
    {
      rules: rules.map((r) => {
        const tags = r.tags
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean);
        return {
          rulePriority: r.rulePriority,
          ...(r.description && { description: r.description }),
          selection: {
            tagStatus: r.tagStatus,
            ...(r.tagStatus === 'tagged' && tags.length > 0 && (tags.some((t) => t.includes('*')) ? { tagPatternList: tags } : { tagPrefixList: tags })),
            countType: r.countType,
            ...(r.countType === 'sinceImagePushed' && { countUnit: 'days' }),
            countNumber: r.countNumber,
          },
          action: { type: 'expire' },
        };
      }),
    },
    null,
    2,
  );
}

/** Reads a policy back into forms; throws with a readable message when the JSON is not one. */
export function parsePolicy(text: string): RuleForm[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`Not JSON: ${(e as Error).message}`);
  }
  const rules = (doc as { rules?: unknown }).rules;
  if (!Array.isArray(rules)) throw new Error('A lifecycle policy is {"rules": [...]}');
  return rules.map((r: Record<string, unknown>, i) => {
    const sel = (r.selection ?? {}) as Record<string, unknown>;
    const tags = [...((sel.tagPrefixList as string[]) ?? []), ...((sel.tagPatternList as string[]) ?? [])];
    return {
      rulePriority: Number(r.rulePriority ?? i + 1),
      description: String(r.description ?? ''),
      tagStatus: (sel.tagStatus as RuleForm['tagStatus']) ?? 'any',
      tags: tags.join(', '),
      countType: (sel.countType as RuleForm['countType']) ?? 'imageCountMoreThan',
      countNumber: Number(sel.countNumber ?? 1),
    };
  });
}
