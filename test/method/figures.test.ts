import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupedBarChart, lineChart, renderVegaLite, scatterChart, type TopLevelSpec } from '../../method/figures';

const curves = [
  {
    name: 'reward',
    points: [
      { x: 0, y: 0.1 },
      { x: 1, y: 0.4 },
      { x: 2, y: 0.7 },
    ],
  },
  {
    name: 'full pass rate',
    points: [
      { x: 0, y: 0.0, low: 0, high: 0.05 },
      { x: 1, y: 0.2, low: 0.1, high: 0.3 },
    ],
  },
];
// vega labels every data mark with its kind (aria-roledescription); axes, legends and titles have others
const marks = (svg: string, kind: string) => svg.split(`aria-roledescription="${kind}"`).length - 1;
const opts = { title: 'Rewriter <curves>', xLabel: 'step', yLabel: 'value' };

test('a line chart renders one line path per series, its points, its title and legend', async () => {
  const svg = await renderVegaLite(lineChart(curves, opts));
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal(marks(svg, 'line mark'), 2, 'two series, two lines');
  assert.equal(marks(svg, 'point'), 5);
  // the interval band: drawn for the series that has intervals only
  assert.equal(marks(svg, 'area mark'), 1);
  assert.match(svg, /Rewriter &lt;curves&gt;/);
  assert.match(svg, /full pass rate/);
  assert.match(svg, />step</);
  assert.ok(!/NaN|undefined/.test(svg), 'no missing value leaks into the drawing');
});

test('the same spec renders to the same SVG; a different one does not', async () => {
  const a = await renderVegaLite(lineChart(curves, opts));
  const b = await renderVegaLite(lineChart(curves, opts));
  assert.equal(a, b);
  const shifted = curves.map((s) => ({ ...s, points: s.points.map((p) => ({ ...p, y: p.y + 0.1 })) }));
  assert.notEqual(await renderVegaLite(lineChart(shifted, opts)), a);
});

test('series keep the given order in the legend, not an alphabetical one', async () => {
  const svg = await renderVegaLite(lineChart(curves, opts));
  const legend = svg.slice(svg.indexOf('role-legend'));
  assert.ok(legend.indexOf('>reward<') < legend.indexOf('>full pass rate<'));
});

test('a scatter chart with labels, error bars and a dose-response line; ids prefixed per figure', async () => {
  const spec = scatterChart(
    [
      { x: 3.78, y: 78.8, low: 77.2, high: 80.3, label: 'vanilla' },
      { x: 1.17, y: 63.9, low: 62.1, high: 65.8, label: 'oracle' },
      { x: 2.1, y: 70, label: 'rl' },
    ],
    [
      {
        name: 'oracle mixtures',
        points: [
          { x: 1.17, y: 63.9 },
          { x: 2.52, y: 71.5 },
          { x: 3.78, y: 78.8 },
        ],
      },
    ],
    { title: 'forgetting vs NLL', xLabel: 'NLL', yLabel: 'forgetting' },
  );
  const svg = await renderVegaLite(spec, { idPrefix: 'fig2-' });
  for (const label of ['vanilla', 'oracle', 'rl', 'oracle mixtures']) assert.match(svg, new RegExp(`>${label}<`));
  assert.equal(marks(svg, 'rule mark'), 2, 'an error bar for each point with an interval');
  assert.equal(marks(svg, 'text mark'), 3);
  assert.ok(!/\bid=/.test(svg), 'nothing clipped here, so no id');
});

test('clip-path ids are numbered per figure under its prefix, so renders repeat and figures never share one', async () => {
  const clipped = {
    data: {
      values: [
        { x: 1, y: 2 },
        { x: 3, y: 4 },
      ],
    },
    mark: { type: 'line', clip: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', scale: { domain: [0, 2] } },
      y: { field: 'y', type: 'quantitative' },
    },
  } as TopLevelSpec;
  const a = await renderVegaLite(clipped, { idPrefix: 'fig7-' });
  assert.equal(a, await renderVegaLite(clipped, { idPrefix: 'fig7-' }), 'vega counts clip paths across renders');
  assert.deepEqual(a.match(/\bid="[^"]+"|url\(#[^)]+\)/g), ['url(#fig7-1)', 'id="fig7-1"']);
});

test('grouped bars: one bar per (group, series) with its error bar; empty input names the figure', async () => {
  const bars = ['arithmetic', 'strings'].flatMap((group) =>
    ['vanilla', 'rl', 'oracle'].map((series, i) => ({
      group,
      series,
      y: 10 * (i + 1),
      low: 10 * i + 5,
      high: 10 * i + 15,
    })),
  );
  const svg = await renderVegaLite(
    groupedBarChart(bars, { title: 'forgetting', xLabel: 'benchmark', yLabel: 'points' }),
  );
  assert.equal(marks(svg, 'bar'), 6);
  assert.equal(marks(svg, 'rule mark'), 6);
  assert.throws(() => groupedBarChart([], { ...opts, title: 'empty one' }), /empty one/);
  assert.throws(() => lineChart([], opts), /no points/);
});
