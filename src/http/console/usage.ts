/**
 * Storage and transfer per repository per day for the console's charts, from the daily usage
 * rows `berth usage` reads: the principal's registry in this region, only the repositories it
 * may DescribeRepositories.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../../auth/principal.js';
import { ConsoleCodes } from '../../core/errors.js';
import { accountOf, regionOf } from '../../core/registry-key.js';
import { DAY_MS, REGISTRY_ROW } from '../../metadata/usage.js';
import { AccessDenied } from '../authz.js';
import { requestOrigin } from '../condition-keys/global.js';
import type { ConsoleDoor } from './door.js';
import { ConsoleError, sendConsoleJson } from './responses.js';

const isoDay = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

export async function usage(door: ConsoleDoor, req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://berth.invalid');
  const daysParam = url.searchParams.get('days') ?? '30';
  if (!/^\d{1,3}$/.test(daysParam) || Number(daysParam) < 1 || Number(daysParam) > 366) {
    throw new ConsoleError(ConsoleCodes.Validation, 'days must be 1 to 366.');
  }
  const days = Number(daysParam);
  const to = Math.floor(door.clock.now().getTime() / DAY_MS) + 1;
  const from = to - days;
  const rows = await door.dailyUsage(from, to, principal.accountId);
  const origin = requestOrigin(req);
  const allowed = new Map<string, boolean>();
  const may = async (repository: string): Promise<boolean> => {
    let ok = allowed.get(repository);
    if (ok === undefined) {
      ok = await door.authorizer
        .check(principal, {
          action: 'ecr:DescribeRepositories',
          resourceAccountId: principal.accountId,
          region: door.region,
          repository,
          origin,
        })
        .then(
          () => true,
          (e: unknown) => {
            if (e instanceof AccessDenied) return false;
            throw e;
          },
        );
      allowed.set(repository, ok);
    }
    return ok;
  };
  const series = new Map<string, Array<{ date: string; storageBytes?: number; bytesIn: number; bytesOut: number; pulls: number }>>();
  for (const r of rows) {
    if (r.day < from || r.repository === REGISTRY_ROW || accountOf(r.registryKey) !== principal.accountId || regionOf(r.registryKey) !== door.region) continue;
    if (!(await may(r.repository))) continue;
    let s = series.get(r.repository);
    if (!s) series.set(r.repository, (s = []));
    s.push({
      date: isoDay(r.day),
      ...(r.storageSamples > 0 && { storageBytes: Math.round(r.storageSum / r.storageSamples) }),
      bytesIn: r.bytesIn,
      bytesOut: r.bytesOut,
      pulls: r.pulls,
    });
  }
  const repositories = [...series]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([repositoryName, d]) => ({ repositoryName, days: d.sort((x, y) => (x.date < y.date ? -1 : 1)) }));
  sendConsoleJson(res, 200, { from: isoDay(from), to: isoDay(to), repositories });
}
