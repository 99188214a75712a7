/**
 * A readable form of pino's JSON lines for a person at a terminal: time, level, message, then the
 * fields as key=value; an access-log line reads like a classic one. Small on purpose (no
 * pino-pretty dependency); only used when the log is pretty, so its JSON.parse costs nothing in
 * production, where logs are JSON.
 */
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every line has or nobody reads at a terminal. */
const HIDDEN = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname', 'err']);
const ACCESS_FIELDS = ['method', 'path', 'protocol', 'status', 'ms', 'bytesSent', 'bytesReceived', 'principal', 'sourceIp', 'requestId'];

export function prettyLine(jsonLine: string, colour: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine;
  }
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const name = (LEVELS[level] ?? String(level)).padEnd(5);
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const parts = [time, colour ? `\x1b[${COLOURS[level] ?? '0'}m${name}\x1b[0m` : name];
  const shown = new Set(HIDDEN);
  if (entry.msg === 'request' && typeof entry.method === 'string') {
    // method path protocol status duration bytes out/in principal ip id, as access logs have always read
    parts.push(
      `${entry.method} ${String(entry.path)}${typeof entry.protocol === 'string' ? ` ${entry.protocol}` : ''} ${String(entry.status)} ${String(entry.ms)}ms ` +
        `out=${String(entry.bytesSent)}B in=${String(entry.bytesReceived)}B ${String(entry.principal)} ${String(entry.sourceIp)} id=${String(entry.requestId)}`,
    );
    for (const k of ACCESS_FIELDS) shown.add(k);
  } else if (typeof entry.msg === 'string') {
    parts.push(entry.msg);
  }
  for (const [k, v] of Object.entries(entry)) {
    if (!shown.has(k) && v !== undefined) parts.push(`${k}=${formatValue(v)}`);
  }
  let out = parts.join(' ') + '\n';
  const err = entry.err as { stack?: unknown; message?: unknown } | undefined;
  if (err && typeof err === 'object') out += `    ${String(err.stack ?? err.message ?? JSON.stringify(err)).replace(/\n/g, '\n    ')}\n`;
  return out;
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}
