/** Sets a header on an Express or Fastify response (a no-op elsewhere). */
export function setResponseHeader(response: unknown, name: string, value: string): void {
  const res = response as { header?: (n: string, v: string) => unknown; setHeader?: (n: string, v: string) => unknown } | undefined;
  if (res === undefined || res === null) return;
  if (typeof res.header === 'function') res.header(name, value);
  else if (typeof res.setHeader === 'function') res.setHeader(name, value);
}
