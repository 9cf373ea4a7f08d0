// Parses Mermaid charts with Mermaid 11 itself, as GitHub renders them.
// stdin: a JSON array of chart sources (the text inside ```mermaid fences).
// stdout: a JSON array, one {ok, error} per chart, plus for xy charts what Mermaid read:
// {yMin, yMax, categories, series}. Exit code 0 when every chart parsed, 1 otherwise.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

// Mermaid sanitises labels with DOMPurify, which needs a window at import time.
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });

const charts = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const source of charts) {
  try {
    await mermaid.parse(source);
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(source);
    const result = { ok: true, type: diagram.type };
    if (typeof diagram.db.getXYChartData === 'function') {
      const data = diagram.db.getXYChartData();
      result.yMin = data.yAxis.min;
      result.yMax = data.yAxis.max;
      result.categories = data.xAxis.categories ?? null;
      result.series = data.plots.map((plot) => ({ type: plot.type, values: plot.data.map((p) => p[1]) }));
      result.title = diagram.db.getDiagramTitle();
    }
    results.push(result);
  } catch (error) {
    results.push({ ok: false, error: String(error?.message ?? error) });
  }
}
process.stdout.write(JSON.stringify(results));
process.exit(results.every((r) => r.ok) ? 0 : 1);
