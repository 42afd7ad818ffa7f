// The one JSON-over-fetch client of both web apps (the portal, web/src/api.ts, and the staff console,
// web/src/staff/api.ts): same-origin cookies, the CSRF token on every write, and the server's error
// body ({ error, message, field }) as an ApiError whose field names the form field to mark.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** the whole error body (e.g. the order an `order_open` refusal names) */
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface JsonClientOptions {
  /** headers of every request besides Accept and Content-Type (e.g. Accept-Language) */
  headers?: () => Record<string, string>;
  /** true when this failed call means the session is gone (the app then shows its login again) */
  sessionLost: (status: number, code: string, path: string) => boolean;
}

/** A client: `call` sends a request; the CSRF token and the session-lost handler are set by the app. */
export function jsonClient(opts: JsonClientOptions) {
  let csrf: string | undefined;
  let onSessionLost: (() => void) | undefined;
  async function call<T>(method: string, path: string, body?: unknown, quietAuth = false): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers?.() };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'network', (e as Error).message);
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let data: Record<string, unknown> = {};
    try {
      data = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      data = { error: 'bad_response', message: text.slice(0, 200) };
    }
    if (!res.ok) {
      const code = typeof data.error === 'string' ? data.error : `http_${res.status}`;
      if (!quietAuth && opts.sessionLost(res.status, code, path)) onSessionLost?.();
      throw new ApiError(
        res.status,
        code,
        typeof data.message === 'string' ? data.message : res.statusText,
        typeof data.field === 'string' ? data.field : undefined,
        data,
      );
    }
    return data as T;
  }
  return {
    call,
    setCsrf: (t: string | undefined): void => {
      csrf = t;
    },
    setSessionLostHandler: (fn: (() => void) | undefined): void => {
      onSessionLost = fn;
    },
  };
}
