/** A small SVG line chart: several series over a shared x axis, with axes, ticks and a legend. */
export interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
  /** A faint line (raw values under their running median). */
  faint?: boolean;
  /** Left out of the legend. */
  hidden?: boolean;
}

/** The running median of the last `window` values (what the CLI's loss plot draws over the raw losses). */
export function runningMedian(points: Array<[number, number]>, window = 25): Array<[number, number]> {
  return points.map(([x], i) => {
    const slice = points.slice(Math.max(0, i - window + 1), i + 1).map((p) => p[1]).filter(Number.isFinite).sort((a, b) => a - b);
    return [x, slice.length === 0 ? NaN : slice[Math.floor(slice.length / 2)]!];
  });
}

const NS = 'http://www.w3.org/2000/svg';

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(0) : String(Number(v.toPrecision(3)));
}

/** Draws the series into `svg` (replacing its content); y from the data unless `yRange` is given. */
export function drawChart(svg: SVGSVGElement, series: Series[], options: { title: string; xLabel: string; yRange?: [number, number] }): void {
  const width = 460;
  const height = 240;
  const m = { left: 46, right: 10, top: 30, bottom: 34 };
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  svg.replaceChildren(el('title', {}, options.title));
  const all = series.flatMap((s) => s.points);
  svg.append(el('text', { x: m.left, y: 16, class: 'chart-title' }, options.title));
  if (all.length === 0) {
    svg.append(el('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'no data yet'));
    return;
  }
  const x0 = Math.min(...all.map((p) => p[0]));
  let x1 = Math.max(...all.map((p) => p[0]));
  if (x1 === x0) x1 = x0 + 1;
  // The y range follows the main lines (a faint raw series may spike far outside them).
  const main = series.filter((s) => !s.faint).flatMap((s) => s.points);
  const finite = (main.length > 0 ? main : all).map((p) => p[1]).filter(Number.isFinite);
  let [y0, y1] = options.yRange ?? [Math.min(...finite), Math.max(...finite)];
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  else if (options.yRange === undefined) [y0, y1] = [y0 - 0.08 * (y1 - y0), y1 + 0.08 * (y1 - y0)];
  const sx = (x: number): number => m.left + ((x - x0) / (x1 - x0)) * (width - m.left - m.right);
  const sy = (y: number): number => height - m.bottom - ((y - y0) / (y1 - y0)) * (height - m.top - m.bottom);
  for (const t of ticks(y0, y1)) {
    svg.append(el('line', { x1: m.left, x2: width - m.right, y1: sy(t), y2: sy(t), class: 'grid-line' }));
    svg.append(el('text', { x: m.left - 6, y: sy(t) + 4, 'text-anchor': 'end', class: 'tick' }, label(t)));
  }
  for (const t of ticks(x0, x1, 6)) {
    const edge = sx(t) > width - m.right - 14;
    svg.append(el('text', { x: sx(t), y: height - m.bottom + 16, 'text-anchor': edge ? 'end' : 'middle', class: 'tick' }, label(t)));
  }
  svg.append(el('line', { x1: m.left, x2: width - m.right, y1: height - m.bottom, y2: height - m.bottom, class: 'axis' }));
  svg.append(el('text', { x: (m.left + width - m.right) / 2, y: height - 6, 'text-anchor': 'middle', class: 'axis-label' }, options.xLabel));
  let legendX = width - m.right;
  for (const s of [...series].reverse()) {
    if (s.hidden) continue;
    const text = el('text', { x: legendX, y: 16, 'text-anchor': 'end', class: 'legend', fill: s.color }, `■ ${s.name}`);
    svg.append(text);
    legendX -= 10 + 6.6 * (s.name.length + 2);
  }
  for (const s of series) {
    // Thin long series so the path stays small: at most ~2 points per pixel.
    const every = Math.max(1, Math.floor(s.points.length / 1000));
    const d = s.points
      .filter((_, i) => i % every === 0 || i === s.points.length - 1)
      .filter((p) => Number.isFinite(p[1]))
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p[0]).toFixed(1)},${sy(Math.min(y1, Math.max(y0, p[1]))).toFixed(1)}`)
      .join('');
    svg.append(el('path', { d, fill: 'none', stroke: s.color, 'stroke-width': s.faint ? 1 : 1.75, 'stroke-opacity': s.faint ? 0.25 : 1, 'stroke-linejoin': 'round', class: s.faint ? 'raw' : 'line' }));
  }
}
