// A cookie-keeping JSON client for the server's APIs, as a browser page would call them: it sends
// the page's Origin, keeps the session cookie and sends the CSRF token once it has one.
export class ApiClient {
  cookie = '';
  csrf = '';
  constructor(
    readonly base: string,
    readonly origin: string,
  ) {}

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ status: number; body: T; headers: Headers; raw: Buffer }> {
    const headers: Record<string, string> = { origin: this.origin, ...extraHeaders };
    if (this.cookie) headers.cookie = this.cookie;
    if (this.csrf) headers['x-csrf-token'] = this.csrf;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
    });
    const set = res.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0]!;
    const raw = Buffer.from(await res.arrayBuffer());
    let parsed: unknown = raw.toString('utf8');
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      // not JSON: redirects, PEM/DER, CSV, PDF
    }
    return { status: res.status, body: parsed as T, headers: res.headers, raw };
  }
}
