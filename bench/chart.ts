/**
 * Draws the charts of bench/results/latest.json (SVG, no dependencies): the
 * README's hit cost per cache, and the load bench's requests per second.
 * `node dist/bench/chart.js` redraws both from the file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface HitResult {
  name: string;
  request: { medianUs: number };
  fetch: { medianUs: number };
  /** The runtime's global fetch (cachette: cache.fetch); absent from results older than that measure. */
  globalFetch?: { medianUs: number };
}

interface LoadResult {
  requestsPerSecond: number;
  p99Ms: number;
  hitRatio: number;
}

interface Results {
  date: string;
  machine: { cpu: string; cores: number };
  node24: string;
  hit: { node20: Record<string, HitResult>; node24: Record<string, HitResult> };
  load?: { seconds: number; connections: number; urls: number; contenders: Record<string, LoadResult>; mixed: Record<string, LoadResult> };
}

interface Group {
  title: string;
  rows: Array<{ label: string; value: number; text: string }>;
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function drawHitChart(results: Results): string {
  const groups: Array<{ title: string; rows: Array<{ label: string; value: number }> }> = [];
  const us = (rows: Array<{ label: string; value: number }>) => rows.map((row) => ({ ...row, text: `${row.value.toFixed(1)} µs` }));
  for (const [title, hits] of [
    [`undici.request, ${'Node 20 + undici 7'}`, results.hit.node20],
    [`undici.request, Node 24 + undici 8`, results.hit.node24],
  ] as const) {
    groups.push({ title, rows: Object.values(hits).map((hit) => ({ label: hit.name, value: hit.request.medianUs })) });
  }
  for (const [title, hits] of [
    ["undici's fetch, Node 20 + undici 7", results.hit.node20],
    ["undici's fetch, Node 24 + undici 8", results.hit.node24],
  ] as const) {
    groups.push({ title, rows: Object.values(hits).map((hit) => ({ label: hit.name, value: hit.fetch.medianUs })) });
  }
  for (const [title, hits] of [
    ['global fetch (cache.fetch), Node 20', results.hit.node20],
    ['global fetch (cache.fetch), Node 24', results.hit.node24],
  ] as const) {
    const rows = Object.values(hits).flatMap((hit) => (hit.globalFetch === undefined ? [] : [{ label: hit.name, value: hit.globalFetch.medianUs }]));
    if (rows.length > 0) groups.push({ title, rows });
  }
  return drawBars(
    'Cost of a cache hit (median µs per request, 2 KB body, lower is better)',
    groups.map((group) => ({ title: group.title, rows: us(group.rows) })),
    results,
  );
}

/** The load bench: requests per second of each contender, the 2 KB workload and the 40%-hit fetch workload (higher is better). */
export function drawLoadChart(results: Results): string {
  const load = results.load;
  if (load === undefined) return drawBars('Under load: no results', [], results);
  const rows = (entries: Record<string, LoadResult>) =>
    Object.entries(entries).map(([label, r]) => ({
      label,
      value: r.requestsPerSecond,
      text: `${r.requestsPerSecond} req/s · p99 ${r.p99Ms} ms · hits ${r.hitRatio}`,
    }));
  return drawBars(
    `Under load: requests per second (${load.connections} connections, ${load.urls} URLs, ${load.seconds} s each; higher is better)`,
    [
      { title: 'A proxy calling its upstream through undici.request: 2 KB JSON, max-age=600', rows: rows(load.contenders) },
      { title: 'Through fetch: 10 KB, 3 URLs in 5 no-store (about 40% hits)', rows: rows(load.mixed) },
    ],
    results,
  );
}

function drawBars(heading: string, groups: Group[], results: Results): string {
  const width = 980;
  const labelWidth = 330;
  const barMax = width - labelWidth - 250;
  const rowHeight = 22;
  let y = 50;
  const parts: string[] = [];
  for (const group of groups) {
    const max = Math.max(...group.rows.map((row) => row.value));
    parts.push(`<text x="10" y="${y}" font-weight="bold">${escapeXml(group.title)}</text>`);
    y += 10;
    for (const row of group.rows) {
      const length = Math.max(1, Math.round((row.value / max) * barMax));
      const ours = row.label.startsWith('cachette');
      const baseline = row.label.startsWith('floor') || row.label === 'none' || row.label.startsWith('fetch');
      parts.push(`<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeXml(row.label)}</text>`);
      parts.push(
        `<rect x="${labelWidth}" y="${y + 3}" width="${length}" height="${rowHeight - 6}" fill="${ours ? '#2b7bb9' : baseline ? '#9aa5b1' : '#e0893a'}"/>`,
      );
      parts.push(`<text x="${labelWidth + length + 6}" y="${y + 15}">${escapeXml(row.text)}</text>`);
      y += rowHeight;
    }
    y += 24;
  }
  const height = y;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="24" font-size="16" font-weight="bold">${escapeXml(heading)}</text>`,
    ...parts,
    `<text x="10" y="${height - 8}" font-size="11" fill="#555">${escapeXml(`${results.date.slice(0, 10)} · ${results.machine.cpu}, ${results.machine.cores} cores · bench/results/latest.json`)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const results = JSON.parse(readFileSync(join(root, 'bench', 'results', 'latest.json'), 'utf8')) as Results;
  writeFileSync(join(root, 'bench', 'results', 'hit-cost.svg'), drawHitChart(results));
  writeFileSync(join(root, 'bench', 'results', 'load.svg'), drawLoadChart(results));
  console.log('wrote bench/results/hit-cost.svg and bench/results/load.svg');
}
