// Figures for reports: Vega-Lite specifications, compiled by vega-lite and rendered to SVG by vega in
// Node. The 'none' renderer draws no canvas: vega measures text by its estimate when no canvas module
// is installed, so the same spec gives the same SVG on every machine, and nothing native is needed.
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export type { TopLevelSpec };

/**
 * Renders a Vega-Lite spec (data inline: nothing is loaded) to a standalone SVG string.
 *
 * vega names clip paths from a process-wide counter (clip1, clip2, ... across renders), which would
 * make the same spec render differently on a second call and let two figures inlined in one HTML page
 * share an id. So the ids are renumbered in order of appearance, under `idPrefix` (give each figure of
 * a page its own).
 */
export async function renderVegaLite(spec: TopLevelSpec, opts: { idPrefix?: string } = {}): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return renumberIds(await view.toSVG(), opts.idPrefix ?? 'fig-');
  } finally {
    view.finalize();
  }
}

function renumberIds(svg: string, prefix: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\bid="([^"]+)"/g)) if (!ids.has(m[1])) ids.set(m[1], `${prefix}${ids.size + 1}`);
  const to = (id: string) => ids.get(id) ?? id;
  return svg
    .replace(/\bid="([^"]+)"/g, (_, id: string) => `id="${to(id)}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${to(id)})`)
    .replace(/href="#([^"]+)"/g, (_, id: string) => `href="#${to(id)}"`);
}

/** One point of a series; `low`/`high` draw its interval (an error bar or a band). */
export interface SeriesPoint {
  x: number;
  y: number;
  low?: number;
  high?: number;
}

export interface Series {
  name: string;
  points: SeriesPoint[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** The y scale includes zero (default: fitted to the data, as for rates or losses near a value). */
  yZero?: boolean;
  /** x counts something (steps, samples): integer ticks only. */
  xInteger?: boolean;
  /** x on a log2 scale (k = 1, 2, 4, ...). */
  xLog?: boolean;
}

interface Row {
  series: string;
  x: number;
  y: number;
  low?: number;
  high?: number;
}

const rowsOf = (series: Series[]): Row[] =>
  series.flatMap((s) => s.points.map((p) => ({ series: s.name, x: p.x, y: p.y, low: p.low, high: p.high })));

/** Series keep the order the caller gave (legend and colours), not vega's alphabetical one. */
const colourBy = (names: string[], title = '') => ({
  field: 'series',
  type: 'nominal' as const,
  title,
  sort: names,
  scale: { domain: names },
  // series names are sentences ("validation: greedy full pass rate"): never cut them
  legend: { labelLimit: 400 },
});

/** The quantitative x encoding; padding keeps the extreme points (and their labels) off the axes. */
function xOf(o: ChartOptions) {
  return {
    field: 'x',
    type: 'quantitative' as const,
    title: o.xLabel,
    scale: o.xLog ? { type: 'log' as const, base: 2, nice: false } : { zero: false, padding: 12 },
    ...(o.xInteger || o.xLog ? { axis: { tickMinStep: 1, format: 'd' } } : {}),
  };
}

function frame(o: ChartOptions) {
  return { title: o.title, width: o.width ?? 520, height: o.height ?? 300, background: 'white' };
}

/**
 * A line chart of several series over a shared quantitative x (training curves, pass rate against k):
 * one line with point marks per series, and a band for the points that carry an interval.
 */
export function lineChart(series: Series[], o: ChartOptions): TopLevelSpec {
  if (series.length === 0 || series.every((s) => s.points.length === 0))
    throw new Error(`lineChart '${o.title}': no points`);
  const names = series.map((s) => s.name);
  const rows = rowsOf(series);
  const x = xOf(o);
  const y = { field: 'y', type: 'quantitative' as const, title: o.yLabel, scale: { zero: o.yZero ?? false } };
  const layers: TopLevelSpec[] = [];
  if (rows.some((r) => r.low !== undefined && r.high !== undefined)) {
    layers.push({
      transform: [{ filter: 'isValid(datum.low) && isValid(datum.high)' }],
      mark: { type: 'area', opacity: 0.2 },
      encoding: { x, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' }, color: colourBy(names) },
    } as TopLevelSpec);
  }
  layers.push({
    mark: { type: 'line', point: true },
    encoding: { x, y, color: colourBy(names), order: { field: 'x', type: 'quantitative' } },
  } as TopLevelSpec);
  return { ...frame(o), data: { values: rows }, layer: layers } as TopLevelSpec;
}

/** One labelled point of a scatter chart (an arm on the forgetting-vs-NLL plane). */
export interface LabelledPoint extends SeriesPoint {
  label: string;
  /** The point's series (its colour, its fitted line); points without one are drawn in grey. */
  series?: string;
}

/**
 * Labelled points with vertical intervals, plus optional lines drawn through other series (the
 * oracle mixtures' dose-response line beside every arm). `fitLine` adds each point series' least
 * squares line (vega's regression transform). Each point's accessible label is "label (series)", so a
 * reader (or a test) finds it in the SVG.
 */
export function scatterChart(
  points: LabelledPoint[],
  lines: Series[],
  o: ChartOptions & { fitLine?: boolean },
): TopLevelSpec {
  if (points.length === 0) throw new Error(`scatterChart '${o.title}': no points`);
  const x = xOf(o);
  const y = {
    field: 'y',
    type: 'quantitative' as const,
    title: o.yLabel,
    scale: { zero: o.yZero ?? false, padding: 12 },
  };
  const pointSeries = [...new Set(points.flatMap((p) => (p.series === undefined ? [] : [p.series])))];
  const names = [...pointSeries, ...lines.map((l) => l.name)];
  const color = colourBy(names);
  const layers: object[] = [];
  if (lines.some((l) => l.points.length > 0)) {
    layers.push({
      data: { values: rowsOf(lines) },
      mark: { type: 'line', point: true, strokeDash: [5, 4] },
      encoding: { x, y, color, order: { field: 'x', type: 'quantitative' } },
    });
  }
  const values = points.map((p) => ({ ...p, title: p.series === undefined ? p.label : `${p.label} (${p.series})` }));
  const seriesValues = values.filter((v) => v.series !== undefined);
  // a line needs two distinct x values (a regression on one x has no slope)
  if (o.fitLine && new Set(seriesValues.map((v) => v.x)).size > 1) {
    layers.push({
      data: { values: seriesValues },
      transform: [{ regression: 'y', on: 'x', groupby: ['series'] }],
      mark: { type: 'line', strokeDash: [5, 4] },
      encoding: { x, y, color },
    });
  }
  if (points.some((p) => p.low !== undefined && p.high !== undefined)) {
    layers.push({
      data: { values },
      transform: [{ filter: 'isValid(datum.low) && isValid(datum.high)' }],
      mark: { type: 'rule', color: '#333' },
      encoding: { x, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } },
    });
  }
  const pointColour = pointSeries.length ? { color } : {};
  layers.push(
    {
      data: { values },
      mark: { type: 'point', filled: true, size: 60, color: '#333' },
      encoding: { x, y, description: { field: 'title' }, ...pointColour },
    },
    {
      data: { values },
      mark: { type: 'text', align: 'left', dx: 6, dy: -6, fontSize: 11 },
      encoding: { x, y, text: { field: 'label' } },
    },
  );
  return { ...frame(o), layer: layers } as TopLevelSpec;
}

/** One bar of a grouped bar chart: `group` along x, `series` side by side within it. */
export interface GroupedBar {
  group: string;
  series: string;
  y: number;
  low?: number;
  high?: number;
}

/** Grouped bars with error bars (forgetting per benchmark, one bar per arm). */
export function groupedBarChart(bars: GroupedBar[], o: ChartOptions): TopLevelSpec {
  if (bars.length === 0) throw new Error(`groupedBarChart '${o.title}': no bars`);
  const groups = [...new Set(bars.map((b) => b.group))];
  const names = [...new Set(bars.map((b) => b.series))];
  const x = { field: 'group', type: 'nominal' as const, title: o.xLabel, sort: groups, axis: { labelAngle: 0 } };
  const xOffset = { field: 'series', type: 'nominal' as const, sort: names, scale: { domain: names } };
  const layers: object[] = [
    {
      mark: 'bar',
      encoding: {
        x,
        xOffset,
        y: { field: 'y', type: 'quantitative', title: o.yLabel, scale: { zero: o.yZero ?? true } },
        color: colourBy(names),
      },
    },
  ];
  if (bars.some((b) => b.low !== undefined && b.high !== undefined)) {
    layers.push({
      transform: [{ filter: 'isValid(datum.low) && isValid(datum.high)' }],
      mark: { type: 'rule', color: '#333' },
      encoding: { x, xOffset, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } },
    });
  }
  return { ...frame(o), data: { values: bars }, layer: layers } as TopLevelSpec;
}
