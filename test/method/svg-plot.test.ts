import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fit, scatterSvg } from '../../method/svg-plot';

test('a scatter plot with labels, error bars and a fitted line', () => {
  const points = [
    { x: 0.2, y: 3, label: 'oracle', low: 1, high: 5 },
    { x: 0.5, y: 9, label: 'oracle-50' },
    { x: 0.9, y: 15, label: 'vanilla <foreign>' },
  ];
  const svg = scatterSvg(points, { title: 'Forgetting vs NLL', xLabel: 'NLL', yLabel: 'forgetting', fitLine: true });
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal(svg.match(/<circle /g)?.length, 3);
  assert.match(svg, /vanilla &lt;foreign&gt;/);
  assert.match(svg, /stroke-dasharray/);
  assert.ok(!/NaN|Infinity/.test(svg));
  const { a, b } = fit([
    { x: 0, y: 1 },
    { x: 1, y: 3 },
  ]);
  assert.deepEqual([a, b], [1, 2]);
});

test('series: a colour, a fitted line and a legend entry each', () => {
  const points = [
    { x: 0.5, y: 0, label: 'oracle', series: 'lenient' },
    { x: 1.5, y: 30, label: 'foreign', series: 'lenient' },
    { x: 0.5, y: 10, label: 'oracle', series: 'strict' },
    { x: 1.5, y: 50, label: 'foreign', series: 'strict' },
  ];
  const svg = scatterSvg(points, { title: 't', xLabel: 'x', yLabel: 'y', fitLine: true });
  const fills = [...svg.matchAll(/<circle [^>]*fill="([^"]+)"><title>([^<]+)<\/title>/g)].map((m) => [m[2], m[1]]);
  assert.deepEqual(fills, [
    ['oracle (lenient)', '#36c'],
    ['foreign (lenient)', '#36c'],
    ['oracle (strict)', '#d62'],
    ['foreign (strict)', '#d62'],
  ]);
  const lines = [...svg.matchAll(/<line [^>]*stroke="([^"]+)" stroke-dasharray/g)].map((m) => m[1]);
  assert.deepEqual(lines, ['#36c', '#d62']);
  assert.match(svg, />lenient<\/text>/);
  assert.match(svg, />strict<\/text>/);
  // the legend sits above the plot area: every point is below it
  for (const m of svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)" r="4" fill="[^"]+"><title>/g))
    assert.ok(Number(m[1]) > 50);
  // without series: no legend, one grey fitted line, as before
  const plain = scatterSvg(
    points.map(({ series: _s, ...p }) => p),
    { title: 't', xLabel: 'x', yLabel: 'y', fitLine: true },
  );
  assert.equal(plain.match(/<circle /g)?.length, 4);
  assert.deepEqual(
    [...plain.matchAll(/stroke="([^"]+)" stroke-dasharray/g)].map((m) => m[1]),
    ['#999'],
  );
});
