/**
 * The sample app serves what its README promises: this suite reads the route
 * table and the demo accounts of sample-app/README.md and calls every row
 * with its real client (fetch for HTTP and GraphQL, graphql-ws, socket.io-client,
 * Nest's NATS client), three ways where the row allows: with no credentials,
 * as a demo user who lacks the right the row names, and as one who holds it.
 * The routes the app serves (its OpenAPI document) and the GraphQL operations
 * (introspection) must be the ones in the table, no more, no fewer.
 *
 * Against what: with SAMPLE_URL unset (npm test), the sample booted in-process
 * from its sources, the way main.ts boots it (`serveSample`), so every test run
 * checks the table with no build; with SAMPLE_URL set, an already running
 * sample: `.ci/run smoke` starts the built one (`node dist-sample/main.js`)
 * and points this suite at it, so the artifact is checked too.
 *
 * NATS: with AUTH_TEST_NATS_URL (the in-process sample then gets it as
 * NATS_URL; a sample given by SAMPLE_URL must have been started with it).
 */
import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { createClient } from 'graphql-ws';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { needs, serviceUrl } from '../../test/support/services.js';

const README = join(dirname(fileURLToPath(import.meta.url)), '../README.md');

// ---- the README, read as data --------------------------------------------------------------

/** The rows of the first markdown table under the `## heading` of `markdown`, as cells. */
export function readTable(markdown: string, heading: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${heading}`);
  if (start < 0) throw new Error(`sample-app/README.md has no "## ${heading}" section`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('## ')) break;
    if (!line.trim().startsWith('|')) {
      if (rows.length > 0) break;
      continue;
    }
    rows.push(
      line
        .trim()
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((c) => c.trim()),
    );
  }
  // The header row and the |---| row.
  return rows.slice(2);
}

const codeSpans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

interface Rights {
  staff: boolean;
  superuser: boolean;
  permissions: string[];
}
interface DemoUser extends Rights {
  username: string;
  password: string;
}

/** `| `alice` | `alice-demo-password` | `articles:read` |`, `staff; ...`, `superuser`. */
export function readDemoUsers(markdown: string): DemoUser[] {
  return readTable(markdown, 'Demo accounts (seeded on the first start)').map(([user, password, rights]) => ({
    username: codeSpans(user!)[0]!,
    password: codeSpans(password!)[0]!,
    staff: /\bstaff\b/.test(rights!),
    superuser: /\bsuperuser\b/.test(rights!),
    permissions: codeSpans(rights!),
  }));
}

/** Who may call: the first clause of a "who" cell (before `;`), or a parenthesised one. */
type Requirement =
  { kind: 'public' } | { kind: 'authenticated' } | { kind: 'staff' } | { kind: 'superuser' } | { kind: 'permission'; anyOf: string[] };

export function readRequirement(clause: string): Requirement {
  const text = clause.trim();
  if (/^public\b/.test(text)) return { kind: 'public' };
  if (/^staff or superuser\b/.test(text)) return { kind: 'staff' };
  if (/^superuser\b/.test(text)) return { kind: 'superuser' };
  const permissions = codeSpans(text).filter((c) => /^[\w-]+:[\w-]+$/.test(c));
  if (permissions.length > 0) return { kind: 'permission', anyOf: permissions };
  return { kind: 'authenticated' };
}

const firstClause = (who: string) => who.split(';')[0]!;

/** A superuser passes every check; staff passes staff checks (API.md). */
function allowed(user: Rights, req: Requirement): boolean {
  switch (req.kind) {
    case 'public':
    case 'authenticated':
      return true;
    case 'staff':
      return user.staff || user.superuser;
    case 'superuser':
      return user.superuser;
    case 'permission':
      return user.superuser || req.anyOf.some((p) => user.permissions.includes(p));
  }
}

interface Row {
  /** `GET /me`, `WS /graphql`, `socket.io /events`, `NATS sample.articles.whoami`. */
  target: string;
  kind: string;
  path: string;
  who: string;
}

export function readRoutes(markdown: string): Row[] {
  return readTable(markdown, 'Routes').flatMap(([routes, who]) =>
    codeSpans(routes!).map((target) => {
      const [kind, path] = target.split(' ');
      if (kind === undefined || path === undefined) throw new Error(`sample-app/README.md route table: cannot read "${target}"`);
      return { target, kind, path, who: who! };
    }),
  );
}

/** `query \`me\` (any authenticated caller), mutation \`createArticle\` (\`articles:write\`)`. */
export function readOperations(who: string): Array<{ type: string; name: string; requirement: Requirement }> {
  return [...who.matchAll(/(query|mutation|subscription) `(\w+)` \(([^)]*)\)/g)].map((m) => ({
    type: m[1]!,
    name: m[2]!,
    requirement: readRequirement(m[3]!),
  }));
}

const markdown = readFileSync(README, 'utf8');
const users = readDemoUsers(markdown);
const rows = readRoutes(markdown);

// ---- how to call each row (a row with no entry here fails: the table and the test cannot drift) ----

interface Session {
  accessToken: string;
  refreshToken: string;
}
interface Ctx {
  url: string;
  login(username: string): Promise<Session>;
  http(method: string, path: string, init?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<Answer>;
}
interface Answer {
  status: number;
  body: any;
  text: string;
}
interface Call {
  path?: string;
  body?: unknown;
  status: number;
  /** Checks after a successful call (the answer, or what the call changed). */
  check?: (answer: Answer, session: Session) => Promise<void> | void;
}
type Plan = (ctx: Ctx, session: Session, username: string) => Promise<Call> | Call;

const password = (username: string) => users.find((u) => u.username === username)!.password;

const HTTP: Record<string, Plan> = {
  'POST /auth/login': (_c, _s, username) => ({
    body: { username, password: password(username) },
    status: 200,
    check: (a) => expect(a.body).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) }),
  }),
  'POST /auth/refresh': async (ctx, _s, username) => {
    const pair = await ctx.login(username);
    return {
      body: { refreshToken: pair.refreshToken },
      status: 200,
      check: async (a) => {
        expect(a.body.refreshToken).not.toBe(pair.refreshToken);
        // The old refresh token stops working.
        expect((await ctx.http('POST', '/auth/refresh', { body: { refreshToken: pair.refreshToken } })).status).toBe(401);
      },
    };
  },
  'POST /auth/logout': (ctx) => ({
    status: 204,
    check: async (_a, session) => expect((await ctx.http('GET', '/me', { token: session.accessToken })).body.code).toBe('token_revoked'),
  }),
  'POST /auth/logout-all': (ctx, _s, username) => ({
    status: 204,
    check: async (_a, session) => {
      expect((await ctx.http('GET', '/me', { token: session.accessToken })).body.code).toBe('token_revoked');
      // A fresh login works again afterwards.
      expect((await ctx.http('GET', '/me', { token: (await ctx.login(username)).accessToken })).status).toBe(200);
    },
  }),
  'GET /auth/sessions': () => ({
    status: 200,
    check: (a) => expect(a.body.filter((s: { current: boolean }) => s.current)).toHaveLength(1),
  }),
  'DELETE /auth/sessions/:id': async (ctx, session, username) => {
    await ctx.login(username);
    const listed = (await ctx.http('GET', '/auth/sessions', { token: session.accessToken })).body as Array<{ id: string; current: boolean }>;
    const other = listed.find((s) => !s.current)!;
    return {
      path: `/auth/sessions/${other.id}`,
      status: 204,
      check: async () =>
        expect(
          ((await ctx.http('GET', '/auth/sessions', { token: session.accessToken })).body as Array<{ id: string }>).map((s) => s.id),
        ).not.toContain(other.id),
    };
  },
  'GET /me': (_c, _s, username) => ({ status: 200, check: (a) => expect(a.body.username).toBe(username) }),
  'GET /articles': () => ({ status: 200, check: (a) => expect(Array.isArray(a.body)).toBe(true) }),
  'POST /articles': (_c, _s, username) => ({
    body: { title: 'From the smoke test' },
    status: 201,
    check: (a) => expect(a.body).toMatchObject({ title: 'From the smoke test', author: username }),
  }),
  'GET /admin/stats': () => ({ status: 200 }),
  'GET /staff/report': () => ({ status: 200 }),
  'GET /health': () => ({ status: 200, check: (a) => expect(a.body).toEqual({ status: 'ok' }) }),
  'GET /': () => ({ status: 200, check: (a) => expect(a.text).toContain('src="/static/app.js"') }),
  'GET /static/app.js': () => ({ status: 200 }),
  'GET /static/style.css': () => ({ status: 200 }),
  'GET /docs': () => ({ status: 200, check: (a) => expect(a.text).toContain('swagger-ui') }),
  'GET /docs-json': () => ({ status: 200, check: (a) => expect(a.body.openapi).toMatch(/^3\./) }),
  'POST /admin/api-keys': (ctx) => ({
    body: { name: 'smoke', permissions: ['articles:read'] },
    status: 201,
    check: async (a) => {
      expect(a.body).toMatchObject({ id: expect.any(String), key: expect.any(String) });
      // The README: GET /articles also accepts an API key that holds articles:read, in x-api-key.
      expect((await ctx.http('GET', '/articles', { headers: { 'x-api-key': a.body.key } })).status).toBe(200);
    },
  }),
  'GET /admin/api-keys': () => ({ status: 200, check: (a) => expect(JSON.stringify(a.body)).not.toMatch(/"key"/) }),
  'DELETE /admin/api-keys/:id': async (ctx, session) => {
    const created = await ctx.http('POST', '/admin/api-keys', {
      token: session.accessToken,
      body: { name: 'to-revoke', permissions: ['articles:read'] },
    });
    return {
      path: `/admin/api-keys/${created.body.id}`,
      status: 204,
      check: async () => expect((await ctx.http('GET', '/articles', { headers: { 'x-api-key': created.body.key } })).status).toBe(401),
    };
  },
};

/** GraphQL documents per operation of the table. */
const GRAPHQL: Record<string, { document: string; check: (data: any, username: string) => void }> = {
  me: { document: '{ me { username } }', check: (d, username) => expect(d.me.username).toBe(username) },
  articles: { document: '{ articles { title } }', check: (d) => expect(d.articles.length).toBeGreaterThan(0) },
  createArticle: {
    document: 'mutation { createArticle(title: "smoke") { title author } }',
    check: (d, username) => expect(d.createArticle).toEqual({ title: 'smoke', author: username }),
  },
  articleCreated: { document: 'subscription { articleCreated { title author } }', check: (d) => expect(d.articleCreated.title).toBeDefined() },
};

// ---- the sample: in-process, or the one SAMPLE_URL names -----------------------------------

let app: INestApplication | undefined;
let dataDir: string | undefined;
let ctx: Ctx;
const natsUrl = serviceUrl('nats');
const sampleUrl = process.env.SAMPLE_URL;
const closers: Array<() => unknown> = [];

beforeAll(async () => {
  let url = sampleUrl?.replace(/\/$/, '');
  if (url === undefined) {
    dataDir = mkdtempSync(join(tmpdir(), 'sample-smoke-'));
    // Read when the sample's modules load: its own database and secret, and NATS when the run has a server.
    process.env.SAMPLE_DB = join(dataDir, 'sample.sqlite');
    process.env.JWT_SECRET ??= 'sample-smoke-test-secret-0123456789abcdef0123';
    if (natsUrl) process.env.NATS_URL = natsUrl;
    else delete process.env.NATS_URL;
    const { serveSample } = await import('../src/bootstrap.js');
    app = await serveSample({ port: 0, host: '127.0.0.1', logger: false });
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  }
  const base = url;
  const http: Ctx['http'] = async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(base + path, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, body, text };
  };
  ctx = {
    url: base,
    http,
    login: async (username) => {
      const res = await http('POST', '/auth/login', { body: { username, password: password(username) } });
      if (res.status !== 200) throw new Error(`the README's demo account ${username} cannot log in: ${res.status} ${res.text}`);
      return res.body as Session;
    },
  };
});

afterAll(async () => {
  for (const close of closers.splice(0)) await close();
  await app?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('sample-app/README.md: the route table and the demo accounts', () => {
  test('the tables were read', () => {
    expect(users.length).toBeGreaterThanOrEqual(3);
    expect(rows.length).toBeGreaterThan(10);
    for (const row of rows) expect(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'WS', 'socket.io', 'NATS']).toContain(row.kind);
  });

  test('every demo account logs in with the password the README gives', async () => {
    for (const user of users) expect((await ctx.login(user.username)).accessToken).toEqual(expect.any(String));
  });

  test('the HTTP routes the app serves are the ones in the table (its OpenAPI document)', async () => {
    const doc = (await ctx.http('GET', '/docs-json')).body as { paths: Record<string, Record<string, unknown>> };
    const served = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    const listed = rows.filter((r) => /^[A-Z]+$/.test(r.kind) && r.kind !== 'WS' && r.kind !== 'NATS').map((r) => r.target);
    expect(served.filter((s) => !listed.includes(s))).toEqual([]);
    // The table's extra rows are served outside the controllers (Swagger, GraphQL); each is called below.
    expect(listed.filter((l) => !served.includes(l)).sort()).toEqual(['GET /docs', 'GET /docs-json', 'POST /graphql']);
  });

  test('every row has a call in this suite, and every call a row', () => {
    const listed = new Set(rows.map((r) => r.target));
    const planned = [...Object.keys(HTTP), 'POST /graphql', 'WS /graphql', 'socket.io /events', 'NATS sample.articles.whoami'];
    expect([...listed].filter((t) => !planned.includes(t))).toEqual([]);
    expect(planned.filter((t) => !listed.has(t))).toEqual([]);
  });
});

describe.each(rows.filter((r) => HTTP[r.target] !== undefined))('$target ($who)', (row) => {
  const requirement = readRequirement(firstClause(row.who));
  const plan = HTTP[row.target]!;
  const granted = users.filter((u) => allowed(u, requirement));
  const refused = users.filter((u) => !allowed(u, requirement));
  const placeholder = row.path.replace(/:\w+/g, 'nope');

  test(requirement.kind === 'public' ? 'answers without credentials' : 'without credentials: 401 token_missing', async () => {
    if (requirement.kind === 'public') {
      const call = await plan(ctx, { accessToken: '', refreshToken: '' }, granted[0]!.username);
      const answer = await ctx.http(row.kind, call.path ?? row.path, { body: call.body });
      expect(answer.status).toBe(call.status);
      await call.check?.(answer, { accessToken: '', refreshToken: '' });
    } else {
      const answer = await ctx.http(row.kind, placeholder);
      expect([answer.status, answer.body?.code]).toEqual([401, 'token_missing']);
    }
  });

  if (requirement.kind !== 'public') {
    test.each(granted.map((u) => u.username))('as %s (holds the right)', async (username) => {
      const session = await ctx.login(username);
      const call = await plan(ctx, session, username);
      const answer = await ctx.http(row.kind, call.path ?? row.path, { token: session.accessToken, body: call.body });
      expect([answer.status, answer.text]).toEqual([call.status, answer.text]);
      await call.check?.(answer, session);
    });
  }
  if (refused.length > 0) {
    test.each(refused.map((u) => u.username))('as %s (lacks it): 403 permission_denied', async (username) => {
      const session = await ctx.login(username);
      const answer = await ctx.http(row.kind, placeholder, { token: session.accessToken, body: row.kind === 'GET' ? undefined : {} });
      expect([answer.status, answer.body?.code]).toEqual([403, 'permission_denied']);
    });
  }
});

describe('GraphQL: POST /graphql and graphql-ws at WS /graphql', () => {
  const httpOps = readOperations(rows.find((r) => r.target === 'POST /graphql')?.who ?? '');
  const wsOps = readOperations(rows.find((r) => r.target === 'WS /graphql')?.who ?? '');
  const gql = (query: string, token?: string) => ctx.http('POST', '/graphql', { token, body: { query } });

  test('the schema has exactly the operations the table lists', async () => {
    const { body } = await ctx.http('POST', '/graphql', {
      token: (await ctx.login(users[0]!.username)).accessToken,
      body: { query: '{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }' },
    });
    const names = (t: { fields: Array<{ name: string }> } | null) => (t?.fields ?? []).map((f) => f.name).sort();
    const schema = body.data.__schema;
    const of = (type: string) =>
      [...httpOps, ...wsOps]
        .filter((o) => o.type === type)
        .map((o) => o.name)
        .sort();
    expect({ query: names(schema.queryType), mutation: names(schema.mutationType), subscription: names(schema.subscriptionType) }).toEqual({
      query: of('query'),
      mutation: of('mutation'),
      subscription: of('subscription'),
    });
  });

  test.each(httpOps.map((o) => [o.type, o.name, o] as const))('%s %s: no token, a user lacking the right, one holding it', async (_t, name, op) => {
    const document = GRAPHQL[name]?.document;
    if (document === undefined) throw new Error(`the table lists GraphQL operation ${name}: add its call to this suite`);
    expect((await gql(document)).body.errors[0].extensions.authCode).toBe('token_missing');
    for (const user of users) {
      const answer = await gql(document, (await ctx.login(user.username)).accessToken);
      if (allowed(user, op.requirement)) {
        expect(answer.body.errors).toBeUndefined();
        GRAPHQL[name]!.check(answer.body.data, user.username);
      } else expect(answer.body.errors[0].extensions.authCode).toBe('permission_denied');
    }
  });

  test.each(wsOps.map((o) => [o.type, o.name, o] as const))(
    '%s %s over graphql-ws: refused without a token, delivered to a holder',
    async (_t, name, op) => {
      const document = GRAPHQL[name]?.document;
      if (document === undefined) throw new Error(`the table lists GraphQL operation ${name}: add its call to this suite`);
      const subscribe = (token: string | undefined) => {
        const client = createClient({
          url: ctx.url.replace(/^http/, 'ws') + '/graphql',
          webSocketImpl: WebSocket,
          connectionParams: token === undefined ? {} : { authorization: `Bearer ${token}` },
          retryAttempts: 0,
          lazy: true,
          onNonLazyError: () => undefined,
        });
        closers.push(() => client.dispose());
        const first = new Promise<{ data?: any; error?: any }>((resolve) => {
          const dispose = client.subscribe(
            { query: document },
            {
              next: (v) => {
                resolve(v.errors ? { error: v.errors } : { data: v.data });
                dispose();
              },
              error: (error) => resolve({ error }),
              complete: () => resolve({ error: 'completed' }),
            },
          );
        });
        return first;
      };
      // Refused before any event: the subscription ends with an error, never a value.
      expect((await subscribe(undefined)).error).toBeDefined();
      const holder = users.find((u) => allowed(u, op.requirement))!;
      const writer = users.find((u) => allowed(u, readRequirement('`articles:write`')))!;
      const received = subscribe((await ctx.login(holder.username)).accessToken);
      // The subscription is live once the server acknowledged it: send mutations until one arrives (bounded).
      const writerToken = (await ctx.login(writer.username)).accessToken;
      let got: { data?: any; error?: any } | undefined;
      void received.then((r) => (got = r));
      for (let i = 0; i < 50 && got === undefined; i++) {
        await gql(GRAPHQL.createArticle!.document, writerToken);
        await new Promise((r) => setTimeout(r, 100));
      }
      const result = await received;
      expect(result.error).toBeUndefined();
      GRAPHQL[name]!.check(result.data, holder.username);
    },
  );
});

describe('socket.io /events', () => {
  const row = rows.find((r) => r.target === 'socket.io /events');
  const event = /event `(\w+)`/.exec(row?.who ?? '')?.[1] ?? 'the socket.io row names no event';

  const connect = (token?: string) => {
    const socket = io(`${ctx.url}${row!.path}`, { transports: ['websocket'], reconnection: false, auth: token === undefined ? {} : { token } });
    closers.push(() => socket.close());
    return socket;
  };

  const connected = async (socket: ReturnType<typeof connect>) => {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return socket;
  };

  test('a bad token: connect_error with code token_invalid; none: a guest, whom the event refuses with token_missing', async () => {
    const bad = connect('not-a-token');
    const error = await new Promise<{ data?: { code: string } }>((resolve) => bad.once('connect_error', resolve));
    expect(error.data?.code).toBe('token_invalid');
    const guest = await connected(connect());
    const refused = await new Promise<{ code: string }>((resolve) => {
      guest.once('exception', resolve);
      guest.emit(event);
    });
    expect(refused.code).toBe('token_missing');
    guest.close();
  });

  test.each(users.map((u) => u.username))(`as %s: the event answers the caller`, async (username) => {
    const socket = await connected(connect((await ctx.login(username)).accessToken));
    const answer = (await socket.timeout(5000).emitWithAck(event)) as { username: string };
    expect(answer.username).toBe(username);
    socket.close();
  });
});

// Skipped only without a NATS server (AUTH_TEST_NATS_URL; .ci/run sets it): needs() prints the line saying so.
const describeNats = needs('the NATS row of the sample route table', 'nats') ? describe : describe.skip;
describeNats('NATS sample.articles.whoami', () => {
  const row = rows.find((r) => r.kind === 'NATS');
  test('no token: token_missing; a holder of the right gets the caller; a user lacking it: permission_denied', async () => {
    const { ClientProxyFactory, NatsRecordBuilder, Transport } = await import('@nestjs/microservices');
    const { headers } = await import('@nats-io/transport-node');
    const { firstValueFrom } = await import('rxjs');
    const client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [natsUrl!] } });
    closers.push(() => client.close());
    await client.connect();
    const send = (token?: string) => {
      const h = headers();
      if (token !== undefined) h.set('authorization', `Bearer ${token}`);
      return firstValueFrom(client.send(row!.path, new NatsRecordBuilder({}).setHeaders(h).build()));
    };
    await expect(send()).rejects.toMatchObject({ code: 'token_missing' });
    const requirement = readRequirement(firstClause(row!.who));
    for (const user of users) {
      const token = (await ctx.login(user.username)).accessToken;
      if (allowed(user, requirement)) expect(await send(token)).toMatchObject({ username: user.username });
      else await expect(send(token)).rejects.toMatchObject({ code: 'permission_denied' });
    }
  });
});
