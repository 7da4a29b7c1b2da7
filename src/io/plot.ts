/**
 * The loss plot: lossD and lossG over steps, raw (faint) and as a centred running median,
 * drawn with vega-lite to SVG headless, and rasterised to PNG with resvg. vega, vega-lite
 * and resvg are loaded on first use, so importing this module costs nothing.
 */

export interface LossPoint {
  step: number;
  lossD: number;
  lossG: number;
}

export interface LossPlotOptions {
  width?: number;
  height?: number;
  title?: string;
  /** At most this many points per series are drawn (evenly thinned), to keep the SVG small. */
  maxPoints?: number;
}

/** vega-lite spec of the loss plot for the given points. */
export function lossPlotSpec(points: readonly LossPoint[], options: LossPlotOptions = {}): Record<string, unknown> {
  const maxPoints = options.maxPoints ?? 1500;
  const stride = Math.max(1, Math.ceil(points.length / maxPoints));
  const values: Array<{ step: number; loss: string; value: number }> = [];
  points.forEach((p, i) => {
    if (i % stride !== 0 && i !== points.length - 1) return;
    if (Number.isFinite(p.lossD)) values.push({ step: p.step, loss: 'lossD (discriminator)', value: p.lossD });
    if (Number.isFinite(p.lossG)) values.push({ step: p.step, loss: 'lossG (generator)', value: p.lossG });
  });
  // A centred running median: GAN losses spike, and a mean would smear each spike into a plateau.
  const window = Math.max(1, Math.round(Math.min(25, values.length / 2 / 40)));
  const color = {
    field: 'loss',
    type: 'nominal',
    title: null,
    scale: { domain: ['lossD (discriminator)', 'lossG (generator)'], range: ['#1f77b4', '#d62728'] },
    legend: { orient: 'top', direction: 'horizontal', labelLimit: 400, symbolOpacity: 1, symbolStrokeWidth: 3 },
  };
  const x = { field: 'step', type: 'quantitative', title: 'step' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: options.title ?? 'Losses',
    width: options.width ?? 640,
    height: options.height ?? 280,
    background: 'white',
    config: { font: 'DejaVu Sans, Helvetica, Arial, sans-serif', view: { stroke: null } },
    data: { values },
    layer: [
      {
        mark: { type: 'line', opacity: 0.25, strokeWidth: 1 },
        encoding: { x, y: { field: 'value', type: 'quantitative', title: 'loss' }, color },
      },
      {
        transform: [{ window: [{ op: 'median', field: 'value', as: 'smoothed' }], frame: [-window, window], groupby: ['loss'], sort: [{ field: 'step' }] }],
        mark: { type: 'line', strokeWidth: 2 },
        encoding: { x, y: { field: 'smoothed', type: 'quantitative', title: 'loss' }, color },
      },
    ],
  };
}

/** A vega-lite spec as an SVG document, rendered headless. */
async function renderSpecSvg(liteSpec: Record<string, unknown>): Promise<string> {
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const spec = vl.compile(liteSpec as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The loss plot as an SVG document. */
export async function renderLossPlotSvg(points: readonly LossPoint[], options: LossPlotOptions = {}): Promise<string> {
  return renderSpecSvg(lossPlotSpec(points, options));
}

/** One value per evaluated step (e.g. local FID), for the quality plot. */
export interface MetricPoint {
  step: number;
  value: number;
}

/** A metric over the steps where it was measured: points joined by a line. */
export function metricPlotSpec(points: readonly MetricPoint[], options: LossPlotOptions & { yTitle: string }): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: options.title ?? options.yTitle,
    width: options.width ?? 640,
    height: options.height ?? 200,
    background: 'white',
    config: { font: 'DejaVu Sans, Helvetica, Arial, sans-serif', view: { stroke: null } },
    data: { values: points.filter((p) => Number.isFinite(p.value)).map((p) => ({ step: p.step, value: p.value })) },
    mark: { type: 'line', point: true, strokeWidth: 2, color: '#2ca02c' },
    encoding: { x: { field: 'step', type: 'quantitative', title: 'step' }, y: { field: 'value', type: 'quantitative', title: options.yTitle } },
  };
}

export async function renderMetricPlotSvg(points: readonly MetricPoint[], options: LossPlotOptions & { yTitle: string }): Promise<string> {
  return renderSpecSvg(metricPlotSpec(points, options));
}

/** Rasterises an SVG to PNG bytes with resvg (system fonts for the text). */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}
