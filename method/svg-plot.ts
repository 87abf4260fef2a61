// A small dependency-free SVG scatter plot with labelled points and an optional least-squares line,
// for reports (e.g. forgetting against the backbone NLL of the SFT data).

export interface PlotPoint {
  x: number;
  y: number;
  label: string;
  /** Optional error bar on y. */
  low?: number;
  high?: number;
  /** The series the point belongs to (its colour, its own fitted line, an entry in the legend). */
  series?: string;
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  fitLine?: boolean;
}

const COLOURS = ['#36c', '#d62', '#393', '#939', '#c93'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function ticks(lo: number, hi: number, n = 5): number[] {
  const step = (hi - lo) / (n - 1);
  return Array.from({ length: n }, (_, i) => lo + i * step);
}

/** Least squares y = a + b x. */
export function fit(points: { x: number; y: number }[]): { a: number; b: number } {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const b = sxx === 0 ? 0 : points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
  return { a: my - b * mx, b };
}

export function scatterSvg(points: PlotPoint[], o: PlotOptions): string {
  if (points.length === 0) throw new Error('scatterSvg: no points');
  const W = o.width ?? 640;
  const H = o.height ?? 420;
  // series in order of first appearance; points without one form a single unnamed series
  const series = [...new Set(points.map((p) => p.series ?? ''))];
  const legend = series.length > 1 || series[0] !== '';
  // a legend is a row under the title, outside the plot area, so no point or label can hide it
  const m = { left: 70, right: 30, top: legend ? 58 : 40, bottom: 60 };
  const ys = points.flatMap((p) => [p.y, p.low ?? p.y, p.high ?? p.y]);
  const pad = (lo: number, hi: number) => {
    const span = hi - lo || Math.abs(hi) || 1;
    return [lo - span * 0.1, hi + span * 0.1];
  };
  const [x0, x1] = pad(Math.min(...points.map((p) => p.x)), Math.max(...points.map((p) => p.x)));
  const [y0, y1] = pad(Math.min(...ys), Math.max(...ys));
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const sy = (y: number) => H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`,
    `<line x1="${m.left}" y1="${H - m.bottom}" x2="${W - m.right}" y2="${H - m.bottom}" stroke="black"/>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${H - m.bottom}" stroke="black"/>`,
    `<text x="${W / 2}" y="${H - 15}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text x="18" y="${H / 2}" text-anchor="middle" transform="rotate(-90 18 ${H / 2})">${esc(o.yLabel)}</text>`,
  ];
  for (const t of ticks(x0, x1)) {
    out.push(`<line x1="${sx(t)}" y1="${H - m.bottom}" x2="${sx(t)}" y2="${H - m.bottom + 5}" stroke="black"/>`);
    out.push(`<text x="${sx(t)}" y="${H - m.bottom + 18}" text-anchor="middle">${t.toFixed(3)}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    out.push(`<line x1="${m.left - 5}" y1="${sy(t)}" x2="${m.left}" y2="${sy(t)}" stroke="black"/>`);
    out.push(`<text x="${m.left - 8}" y="${sy(t) + 4}" text-anchor="end">${t.toFixed(1)}</text>`);
  }
  const colour = (p: PlotPoint) => COLOURS[series.indexOf(p.series ?? '') % COLOURS.length];
  if (o.fitLine) {
    for (const [i, name] of series.entries()) {
      const own = points.filter((p) => (p.series ?? '') === name);
      if (own.length < 2) continue;
      const { a, b } = fit(own);
      const stroke = series.length > 1 ? COLOURS[i % COLOURS.length] : '#999';
      out.push(
        `<line x1="${sx(x0)}" y1="${sy(a + b * x0)}" x2="${sx(x1)}" y2="${sy(a + b * x1)}" stroke="${stroke}" stroke-dasharray="5,4"/>`,
      );
    }
  }
  for (const p of points) {
    const c = colour(p);
    if (p.low !== undefined && p.high !== undefined) {
      out.push(`<line x1="${sx(p.x)}" y1="${sy(p.low)}" x2="${sx(p.x)}" y2="${sy(p.high)}" stroke="${c}"/>`);
    }
    const title = p.series ? `${p.label} (${p.series})` : p.label;
    out.push(`<circle cx="${sx(p.x)}" cy="${sy(p.y)}" r="4" fill="${c}"><title>${esc(title)}</title></circle>`);
    out.push(`<text x="${sx(p.x) + 7}" y="${sy(p.y) - 7}">${esc(p.label)}</text>`);
  }
  if (legend) {
    let x = m.left;
    for (const [i, name] of series.entries()) {
      out.push(`<circle cx="${x + 4}" cy="38" r="4" fill="${COLOURS[i % COLOURS.length]}"/>`);
      out.push(`<text x="${x + 12}" y="42">${esc(name || 'other')}</text>`);
      x += 30 + 7 * (name || 'other').length;
    }
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
