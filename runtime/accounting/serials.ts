/** Certificate serials as claimed: single serials and inclusive ranges, counted and checked for double claims. */

/** Expand serials: `A000001..A003000` is an inclusive range; returns the count and every serial only for small lists. */
export function countSerials(serials: readonly string[]): { count: bigint; duplicates: string[]; bad: string[] } {
  const seen = new Set<string>();
  const duplicates: string[] = [];
  const bad: string[] = [];
  let count = 0n;
  const ranges: { prefix: string; a: bigint; b: bigint; text: string }[] = [];
  for (const s of serials) {
    const m = /^(.*?)(\d+)\.\.(.*?)(\d+)$/.exec(s);
    if (m) {
      const [, p1, a, p2, b] = m;
      if (p1 !== p2 || BigInt(b!) < BigInt(a!)) {
        bad.push(s);
        continue;
      }
      for (const r of ranges) {
        if (r.prefix === p1 && BigInt(a!) <= r.b && BigInt(b!) >= r.a) duplicates.push(`${s} overlaps ${r.text}`);
      }
      ranges.push({ prefix: p1!, a: BigInt(a!), b: BigInt(b!), text: s });
      count += BigInt(b!) - BigInt(a!) + 1n;
    } else {
      if (seen.has(s)) duplicates.push(s);
      seen.add(s);
      count += 1n;
    }
  }
  return { count, duplicates, bad };
}
