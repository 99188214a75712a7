/**
 * The console's one way to the server: same-origin fetches under /console/api/, carrying the
 * session cookie (the browser sends it; the app never sees a secret) and the CSRF token the
 * session handed out. ECR and IAM errors arrive as `{ __type, message }` and become ApiErrors
 * whose message a person can read.
 */

export class ApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

let csrfToken: string | undefined;
let onSignedOut: (() => void) | undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Called when the server says the session is gone (expired, signed out elsewhere). */
export function whenSignedOut(fn: () => void): void {
  onSignedOut = fn;
}

/** What a person reads before the server's own message, by the error's type. */
const TITLES: Record<string, string> = {
  AccessDeniedException: 'Not allowed',
  AccessDenied: 'Not allowed',
  RepositoryNotFoundException: 'Repository not found',
  RepositoryAlreadyExistsException: 'A repository of this name already exists',
  RepositoryNotEmptyException: 'The repository still holds images',
  ImageNotFoundException: 'Image not found',
  InvalidParameterException: 'Invalid input',
  ValidationException: 'Invalid input',
  InvalidInput: 'Invalid input',
  MalformedPolicyDocument: 'The policy document is not valid',
  LifecyclePolicyNotFoundException: 'No lifecycle policy',
  LifecyclePolicyPreviewNotFoundException: 'No preview has run yet',
  RepositoryPolicyNotFoundException: 'No repository policy',
  ScanNotFoundException: 'No scan yet',
  LimitExceededException: 'A limit was reached',
  ThrottlingException: 'Too many requests: try again in a moment',
  NoSuchEntity: 'Not found',
  EntityAlreadyExists: 'Already exists',
  InvalidClientTokenId: 'Unknown access key',
  SignatureDoesNotMatch: 'Wrong secret access key',
  UnrecognizedClientException: 'Unknown access key',
  InvalidCsrfToken: 'The page is out of date: reload it',
  InvalidCredentials: 'Sign-in failed',
  NotSignedIn: 'Signed out',
  PasswordResetRequired: 'Choose a new password',
  PasswordPolicyViolation: 'The new password is not allowed',
  DeleteConflict: 'Still in use',
  LifecyclePolicyPreviewInProgressException: 'A preview is already running',
};

/** `com.amazonaws...#RepositoryNotFoundException` and `RepositoryNotFoundException:` both name the type. */
export function errorType(raw: string): string {
  return raw.replace(/^.*#/, '').replace(/:.*$/, '');
}

export function readableError(type: string, message: string): string {
  const title = TITLES[type];
  if (!title) return message || type || 'The request failed';
  return message && message !== title ? `${title}: ${message}` : title;
}

/** The message to show for anything a call threw. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

async function toError(res: Response): Promise<ApiError> {
  let type = `HTTP ${res.status}`;
  let message = res.statusText;
  try {
    const body = (await res.json()) as { __type?: string; message?: string; Message?: string; error?: { code?: string; message?: string } };
    const raw = body.__type ?? body.error?.code;
    if (raw) type = errorType(raw);
    message = body.message ?? body.Message ?? body.error?.message ?? message;
  } catch {
    // not JSON: the status says enough
  }
  return new ApiError(type, readableError(type, message), res.status);
}

/** A call to /console/api (docs/console-api.md): every POST carries the session's CSRF token. */
export async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...extraHeaders };
  if (body !== undefined && !(body instanceof URLSearchParams)) headers['Content-Type'] ??= 'application/json';
  if (method === 'POST' && csrfToken) headers['X-Berth-Csrf'] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined && { body: body instanceof URLSearchParams ? body : JSON.stringify(body) }),
  });
  if (!res.ok) {
    const err = await toError(res);
    if (err.type === 'NotSignedIn') onSignedOut?.();
    throw err;
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** An ECR JSON API action, performed by the server as the signed-in principal; the answer is ECR's. */
export function ecr<T>(action: string, input: object = {}): Promise<T> {
  return request<T>('POST', '/console/api/ecr', input, {
    'X-Amz-Target': `AmazonEC2ContainerRegistry_V20150921.${action}`,
    'Content-Type': 'application/x-amz-json-1.1',
  });
}

/** An IAM Query action (the form `aws iam` sends); the answer is its result rendered as JSON. */
export function iam<T>(action: string, params: Record<string, string> = {}): Promise<T> {
  return request<T>('POST', '/console/api/iam', new URLSearchParams({ Action: action, ...params }));
}
