// Flatness of a sampled series: the least-squares slope over a window, expressed as the growth it
// implies across that window. Pure, so the soak's verdicts are unit-tested.

export interface Point {
  /** seconds since the soak started */
  t: number;
  v: number;
}

/** Growth over the window implied by the fitted slope (v units); 0 for fewer than 3 points. */
export function trendGrowth(points: readonly Point[]): number {
  if (points.length < 3) return 0;
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const mv = points.reduce((s, p) => s + p.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  if (den === 0) return 0;
  return (num / den) * (points[n - 1].t - points[0].t);
}

/** The samples of the second half of the run (by time). */
export function secondHalf(points: readonly Point[]): Point[] {
  if (points.length === 0) return [];
  const mid = (points[0].t + points[points.length - 1].t) / 2;
  return points.filter((p) => p.t >= mid);
}
