/** Set-Cookie lines as a browser would read them: name, value and lower-cased attributes. */
export interface SetCookie {
  name: string;
  value: string;
  attrs: Record<string, string | true>;
}

export function setCookiesOf(res: { headers: Record<string, unknown> }): SetCookie[] {
  const raw = res.headers['set-cookie'];
  const lines = raw === undefined ? [] : Array.isArray(raw) ? (raw as string[]) : [String(raw)];
  return lines.map((line) => {
    const [pair, ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const out: SetCookie = { name: pair.slice(0, eq), value: decodeURIComponent(pair.slice(eq + 1)), attrs: {} };
    for (const attr of attrs) {
      const i = attr.indexOf('=');
      if (i === -1) out.attrs[attr.toLowerCase()] = true;
      else out.attrs[attr.slice(0, i).toLowerCase()] = attr.slice(i + 1);
    }
    return out;
  });
}

export function cookieNamed(res: { headers: Record<string, unknown> }, name: string): SetCookie | undefined {
  return setCookiesOf(res).find((c) => c.name === name);
}
