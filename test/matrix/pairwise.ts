/**
 * A pairwise covering design: rows in which every value of every axis meets
 * every value of every other axis at least once, far fewer than the full
 * product. Greedy and deterministic (the same axes give the same rows, so a
 * failing row can be named and re-run): each new row starts from the first
 * pair still uncovered and fills the other axes, in order, with the value that
 * covers the most pairs still uncovered with the values already chosen.
 */
export type Axes = Record<string, readonly string[]>;
export type Row<A extends Axes> = { [K in keyof A]: A[K][number] };

const key = (a: string, va: string, b: string, vb: string) => `${a}=${va}\u0000${b}=${vb}`;

/** Every pair of values of two different axes, as keys (axis order as given). */
export function allPairKeys(axes: Axes): Set<string> {
  const names = Object.keys(axes);
  const pairs = new Set<string>();
  for (let i = 0; i < names.length; i++)
    for (let j = i + 1; j < names.length; j++)
      for (const va of axes[names[i]!]!) for (const vb of axes[names[j]!]!) pairs.add(key(names[i]!, va, names[j]!, vb));
  return pairs;
}

/** The pairs a row covers. */
export function pairsOf(axes: Axes, row: Record<string, string>): string[] {
  const names = Object.keys(axes);
  const pairs: string[] = [];
  for (let i = 0; i < names.length; i++)
    for (let j = i + 1; j < names.length; j++) pairs.push(key(names[i]!, row[names[i]!]!, names[j]!, row[names[j]!]!));
  return pairs;
}

export function pairwise<A extends Axes>(axes: A): Array<Row<A>> {
  const names = Object.keys(axes);
  for (const name of names) if (axes[name]!.length === 0) throw new Error(`axis ${name} has no value`);
  const uncovered = allPairKeys(axes);
  const rows: Array<Row<A>> = [];
  const gain = (row: Record<string, string>, axis: string, value: string) => {
    let n = 0;
    for (const other of names) {
      if (other === axis || row[other] === undefined) continue;
      const [a, b] = names.indexOf(axis) < names.indexOf(other) ? [axis, other] : [other, axis];
      const [va, vb] = a === axis ? [value, row[other]!] : [row[other]!, value];
      if (uncovered.has(key(a, va, b, vb))) n++;
    }
    return n;
  };
  while (uncovered.size > 0) {
    const [first] = uncovered;
    const row: Record<string, string> = {};
    for (const part of first!.split('\u0000')) {
      const [axis, value] = part.split('=') as [string, string];
      row[axis] = value;
    }
    for (const axis of names) {
      if (row[axis] !== undefined) continue;
      let best = axes[axis]![0]!;
      let bestGain = -1;
      for (const value of axes[axis]!) {
        const g = gain(row, axis, value);
        if (g > bestGain) [best, bestGain] = [value, g];
      }
      row[axis] = best;
    }
    for (const pair of pairsOf(axes, row)) uncovered.delete(pair);
    rows.push(row as Row<A>);
  }
  return rows;
}
