/**
 * The training dashboard: the served run's losses, D's outputs and speed as SVG charts, the
 * fixed-noise grids over time with a scrubber, and the config; live through /api/events
 * (server-sent events) while the run trains, and the same for a finished run.
 */
import type { StepMetrics } from '../../src/train/trainer.js';
import { drawChart, runningMedian, type Series } from './chart.js';
import { h, labelled } from './dom.js';

type Metrics = Omit<StepMetrics, 'epoch' | 'time'> & Partial<Pick<StepMetrics, 'epoch' | 'time'>>;

interface Snapshot {
  mode: 'run' | 'checkpoint' | 'none';
  name: string | null;
  config: Record<string, unknown> | null;
  metrics: Metrics[];
  samples: string[];
  checkpoint: boolean;
}

/** What the tests read (window.__dcgan.dashboard). */
export interface DashboardState {
  connected: boolean;
  metricsCount: number;
  lastStep: number | null;
  samples: string[];
  shownSample: string | null;
  updates: number;
}

const COLORS = { lossD: '#d1495b', lossG: '#2e86ab', D_x: '#3b8b3b', D_G_z1: '#c17f00', D_G_z2: '#8e5bb5', speed: '#555' };

/** The step of a grid file name (samples/step_000200.png → 200). */
function stepOf(file: string): number | null {
  const match = /step_(\d+)\.png$/.exec(file);
  return match === null ? null : Number(match[1]);
}

export function createDashboard(root: HTMLElement, snapshot: Snapshot, onCheckpoint: () => void): { state: DashboardState } {
  const state: DashboardState = { connected: false, metricsCount: 0, lastStep: null, samples: [], shownSample: null, updates: 0 };
  let metrics: Metrics[] = [];
  let config: Record<string, unknown> | null = null;

  const status = h('p', { class: 'status', 'aria-live': 'polite' });
  const summary = h('dl', { class: 'summary' });
  const lossSvg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  lossSvg.id = 'loss-chart';
  const dSvg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  dSvg.id = 'd-chart';
  const speedSvg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  speedSvg.id = 'speed-chart';
  const scrubber = h('input', { type: 'range', id: 'grid-scrubber', min: 0, max: 0, value: 0, disabled: true });
  const scrubLabel = h('output', { for: 'grid-scrubber', class: 'scrub-label' });
  const gridImg = h('img', { id: 'grid-image', alt: 'the fixed-noise grid', class: 'pixels grid-image' });
  const configTable = h('table', { class: 'config' });
  let followLatest = true;

  root.append(
    h('h2', { text: 'Training dashboard' }),
    status,
    summary,
    h('div', { class: 'columns' },
      h('div', { class: 'panel chart' }, lossSvg),
      h('div', { class: 'panel chart' }, dSvg),
      h('div', { class: 'panel chart' }, speedSvg),
    ),
    h('div', { class: 'columns' },
      h('div', { class: 'panel' }, h('h3', { text: 'The fixed-noise grid over time' }), labelled('Step', scrubber), scrubLabel, h('div', {}, gridImg)),
      h('div', { class: 'panel' }, h('h3', { text: 'Config' }), configTable),
    ),
  );

  const showSample = (index: number): void => {
    const file = state.samples[index];
    if (file === undefined) return;
    state.shownSample = file;
    gridImg.src = `run/${file}`;
    const step = stepOf(file);
    const text = `${step === null ? file : `step ${step}`} (${index + 1} of ${state.samples.length})`;
    scrubLabel.textContent = text;
    scrubber.setAttribute('aria-valuetext', text);
    gridImg.alt = `the fixed-noise grid at ${step === null ? file : `step ${step}`}`;
  };
  scrubber.addEventListener('input', () => {
    followLatest = Number(scrubber.value) === state.samples.length - 1;
    showSample(Number(scrubber.value));
  });

  const drawSamples = (): void => {
    scrubber.max = String(Math.max(0, state.samples.length - 1));
    scrubber.disabled = state.samples.length === 0;
    if (state.samples.length === 0) {
      scrubLabel.textContent = 'no grids yet';
      return;
    }
    if (followLatest) scrubber.value = String(state.samples.length - 1);
    showSample(Number(scrubber.value));
  };

  const drawConfig = (): void => {
    configTable.replaceChildren(
      h('caption', { class: 'hint', text: 'config.json' }),
      ...Object.entries(config ?? {}).map(([k, v]) => h('tr', {}, h('th', { scope: 'row', text: k }), h('td', { text: typeof v === 'object' ? JSON.stringify(v) : String(v) }))),
    );
  };

  const drawMetrics = (): void => {
    state.metricsCount = metrics.length;
    const last = metrics.at(-1);
    state.lastStep = last?.step ?? null;
    const total = typeof config?.['steps'] === 'number' ? (config['steps'] as number) : null;
    const recent = metrics.slice(-20);
    const speed = recent.length === 0 ? null : recent.reduce((a, m) => a + m.imagesPerSec, 0) / recent.length;
    const items: Array<[string, string]> = [
      ['step', last === undefined ? '—' : `${last.step}${total === null ? '' : ` of ${total}`}`],
      ['loss D', last === undefined ? '—' : last.lossD.toFixed(3)],
      ['loss G', last === undefined ? '—' : last.lossG.toFixed(3)],
      ['D(x)', last === undefined ? '—' : last.D_x.toFixed(3)],
      ['D(G(z))', last === undefined ? '—' : `${last.D_G_z1.toFixed(3)} / ${last.D_G_z2.toFixed(3)}`],
      ['images/s', speed === null ? '—' : speed.toFixed(1)],
    ];
    summary.replaceChildren(...items.map(([k, v]) => h('div', {}, h('dt', { text: k }), h('dd', { text: v, 'data-key': k }))));
    const pts = (key: keyof Metrics): Array<[number, number]> => metrics.map((m) => [m.step, m[key] as number]);
    // Raw values faint, their running median (25 steps) on top, as the CLI's loss plot.
    const smoothed = (name: string, color: string, points: Array<[number, number]>): Series[] => [
      { name, color, points, faint: true, hidden: true },
      { name, color, points: runningMedian(points) },
    ];
    drawChart(lossSvg, [...smoothed('loss D', COLORS.lossD, pts('lossD')), ...smoothed('loss G', COLORS.lossG, pts('lossG'))], { title: 'Losses (running median of 25 steps)', xLabel: 'step' });
    // The trainer logs D's mean probabilities (sigmoid of the logits).
    const prob = (key: 'D_x' | 'D_G_z1' | 'D_G_z2'): Array<[number, number]> => pts(key);
    drawChart(dSvg, [
      ...smoothed('D(x)', COLORS.D_x, prob('D_x')),
      ...smoothed('D(G(z)) before G', COLORS.D_G_z1, prob('D_G_z1')),
      ...smoothed('after', COLORS.D_G_z2, prob('D_G_z2')),
    ], { title: 'D’s mean output', xLabel: 'step', yRange: [0, 1] });
    drawChart(speedSvg, smoothed('images/s', COLORS.speed, pts('imagesPerSec')), { title: 'Speed (images/s)', xLabel: 'step' });
  };

  const apply = (snap: Snapshot): void => {
    config = snap.config;
    metrics = [...snap.metrics];
    state.samples = [...snap.samples];
    drawConfig();
    drawMetrics();
    drawSamples();
  };

  if (snapshot.mode !== 'run') {
    status.textContent =
      snapshot.mode === 'checkpoint'
        ? `Serving the checkpoint ${snapshot.name ?? ''}: it has no training log. Serve a run folder (dcgan serve --run runs/…) for the dashboard.`
        : 'No run is served. Start one with `dcgan serve --run runs/<run>` (live while `dcgan train` writes to it).';
    apply(snapshot);
    return { state };
  }

  status.textContent = `Run folder ${snapshot.name ?? ''}: connecting…`;
  apply(snapshot);
  const events = new EventSource('api/events');
  events.addEventListener('open', () => {
    state.connected = true;
    status.textContent = `Run folder ${snapshot.name ?? ''}: live — the charts and grids follow the folder as the run writes to it.`;
  });
  events.addEventListener('error', () => {
    state.connected = false;
    status.textContent = `Run folder ${snapshot.name ?? ''}: connection to dcgan serve lost, retrying…`;
  });
  events.addEventListener('snapshot', (event) => {
    apply(JSON.parse((event as MessageEvent<string>).data) as Snapshot);
    state.updates++;
  });
  events.addEventListener('metrics', (event) => {
    metrics.push(...(JSON.parse((event as MessageEvent<string>).data) as Metrics[]));
    drawMetrics();
    state.updates++;
  });
  events.addEventListener('sample', (event) => {
    const { file } = JSON.parse((event as MessageEvent<string>).data) as { file: string };
    if (!state.samples.includes(file)) state.samples.push(file);
    state.samples.sort();
    drawSamples();
    state.updates++;
  });
  events.addEventListener('checkpoint', () => onCheckpoint());
  return { state };
}
