/**
 * report.html: one self-contained page per run — the settings, the loss curves (inline SVG),
 * the sample grids over time, the final samples and real samples for comparison. Every image
 * is linked by a path relative to the run folder, so the folder can be moved or shared whole.
 */
import { writeFileAtomic } from './atomic.js';

export interface ReportGrid {
  /** Path relative to the run folder, with forward slashes (e.g. samples/step_000500.png). */
  src: string;
  step: number;
}

export interface ReportInput {
  title?: string;
  /** Settings shown in the config table (values printed as JSON where not strings). */
  config: Record<string, unknown>;
  /** A short summary: steps run, time, final losses… (label → value). */
  summary: Record<string, string>;
  /** The loss plot as an SVG document, inlined; null when there were no steps. */
  lossPlotSvg: string | null;
  /** Relative path of the loss plot PNG, linked under the inline SVG. */
  lossPlotPng?: string | null;
  /** The sample-quality plot (local FID over the evaluated steps, from --eval-every), inline SVG. */
  qualityPlotSvg?: string | null;
  grids: ReportGrid[];
  finalSamples: string | null;
  realSamples: string | null;
  /** Extra notes (e.g. "stopped by Ctrl-C at step 120"). */
  notes?: string[];
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Percent-encodes each segment of a relative path for an href/src, keeping the slashes. */
function url(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function stripXmlProlog(svg: string): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, '');
}

export function renderReport(input: ReportInput): string {
  const title = input.title ?? 'DCGAN run';
  const rows = Object.entries(input.config)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(typeof v === 'string' ? v : JSON.stringify(v) ?? 'null')}</td></tr>`)
    .join('\n');
  const summary = Object.entries(input.summary)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('\n');
  const figure = (src: string, caption: string): string =>
    `<figure><a href="${url(src)}"><img src="${url(src)}" alt="${escapeHtml(caption)}" loading="lazy"></a><figcaption>${escapeHtml(caption)}</figcaption></figure>`;
  const grids = input.grids.map((g) => figure(g.src, `step ${g.step}`)).join('\n');
  const notes = (input.notes ?? []).map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; }
  h1 { margin-bottom: 0.2rem; }
  h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
  table { border-collapse: collapse; }
  th, td { text-align: left; padding: 0.15rem 0.8rem 0.15rem 0; font-variant-numeric: tabular-nums; }
  th { font-weight: 600; color: #555; }
  .tables { display: flex; gap: 3rem; flex-wrap: wrap; }
  .grids { display: flex; flex-wrap: wrap; gap: 1rem; }
  figure { margin: 0; }
  figure img { image-rendering: pixelated; max-width: 100%; border: 1px solid #ccc; }
  .grids figure img { width: 256px; }
  .pair { display: flex; gap: 2rem; flex-wrap: wrap; align-items: flex-start; }
  .pair figure img { width: 420px; }
  figcaption { font-size: 0.9rem; color: #555; }
  .plot svg { max-width: 100%; height: auto; }
  .note { background: #fff6e0; border-left: 4px solid #e0a000; padding: 0.4rem 0.8rem; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${notes}
<div class="tables">
<section><h2>Summary</h2><table>
${summary}
</table></section>
<section><h2>Configuration</h2><table>
${rows}
</table></section>
</div>
<h2>Losses</h2>
<div class="plot">${input.lossPlotSvg === null ? '<p>No training steps yet.</p>' : stripXmlProlog(input.lossPlotSvg)}</div>
${input.lossPlotPng ? `<p><a href="${url(input.lossPlotPng)}">${escapeHtml(input.lossPlotPng)}</a></p>` : ''}
${input.qualityPlotSvg ? `<h2>Sample quality</h2>\n<div class="plot">${stripXmlProlog(input.qualityPlotSvg)}</div>\n<p>fid_local: Fréchet distance in the feature space of a classifier trained on this data set (dcgan eval), not Inception's; lower is better.</p>` : ''}
<h2>Final samples and real samples</h2>
<div class="pair">
${input.finalSamples ? figure(input.finalSamples, 'generated (fixed noise, final weights)') : '<p>No final samples.</p>'}
${input.realSamples ? figure(input.realSamples, 'real training images') : ''}
</div>
<h2>Samples over time</h2>
<p>The same fixed noise vectors at every step, so each cell follows one z through training.</p>
<div class="grids">
${grids || '<p>No sample grids yet.</p>'}
</div>
</body>
</html>
`;
}

export function writeReport(path: string, input: ReportInput): void {
  writeFileAtomic(path, new TextEncoder().encode(renderReport(input)));
}
