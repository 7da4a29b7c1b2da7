/**
 * The latent explorer: a generator (from the served run, a URL or a dropped file) runs in a Web
 * Worker on the wasm backend; a grid of samples from a seed; picks into groups; interpolation
 * between two picks (linear or spherical) as a strip and an animation; vector arithmetic
 * (mean A − mean B + mean C); sliders along latent directions; PNG downloads.
 */
import { Generator, models } from '../../src/core.js';
import { canvas, downloadCanvas, drawImage, gridCanvas, h, labelled } from './dom.js';
import { describeEngine, type EngineInfo } from './engine.js';
import { GeneratorClient } from './protocol.js';

type Group = 'ends' | 'A' | 'B' | 'C';
const GROUPS: Array<{ id: Group; label: string }> = [
  { id: 'ends', label: 'Interpolation ends' },
  { id: 'A', label: 'Group A' },
  { id: 'B', label: 'Group B' },
  { id: 'C', label: 'Group C' },
];

/** What the tests read (window.__dcgan.explorer). */
export interface ExplorerState {
  ready: boolean;
  busy: boolean;
  error: string | null;
  engine: EngineInfo | null;
  source: string | null;
  config: models.DcganConfig | null;
  seed: number;
  count: number;
  /** The grid's z, one array per sample. */
  z: number[][];
  picks: Record<Group, number[]>;
  interpolation: { mode: 'linear' | 'spherical'; steps: number; z: number[][] };
  arithmetic: { z: number[] | null };
  sliders: { base: number[] | null; values: number[]; z: number[] | null };
  /** A conditional generator's classes, and the one every image is drawn from. */
  classes: string[] | null;
  classIndex: number;
  /** Incremented after every drawing; tests wait on it. */
  renders: number;
}

export interface ExplorerApi {
  state: ExplorerState;
  loadUrl(url: string): Promise<void>;
  loadBytes(bytes: ArrayBuffer, name: string): Promise<void>;
  setSeed(seed: number): Promise<void>;
  pick(index: number, group: Group): Promise<void>;
  setMode(mode: 'linear' | 'spherical'): Promise<void>;
  setClass(index: number): Promise<void>;
}

function mean(vectors: Float32Array[], nz: number): Float32Array {
  const out = new Float32Array(nz);
  for (const v of vectors) for (let i = 0; i < nz; i++) out[i] += v[i]! / vectors.length;
  return out;
}

function unit(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return v.map((x) => x / norm);
}

export function createExplorer(root: HTMLElement, served: { checkpoint: boolean; name: string | null; live: boolean }): ExplorerApi {
  const worker = new Worker(new URL('./generator-worker.ts', import.meta.url), { type: 'module', name: 'dcgan generator' });
  const client = new GeneratorClient(worker);
  const state: ExplorerState = {
    ready: false,
    busy: false,
    error: null,
    engine: null,
    source: null,
    config: null,
    seed: 1,
    count: 16,
    z: [],
    picks: { ends: [], A: [], B: [], C: [] },
    interpolation: { mode: 'spherical', steps: 8, z: [] },
    arithmetic: { z: null },
    sliders: { base: null, values: [0, 0, 0], z: null },
    classes: null,
    classIndex: 0,
    renders: 0,
  };
  let gridZ: Float32Array[] = [];
  let target: Group = 'ends';
  let lastGrid: Uint8ClampedArray<ArrayBuffer> | null = null;

  // ---- layout ----
  const engineLine = h('p', { class: 'engine', 'aria-live': 'polite', text: 'Starting the engine…' });
  const sourceLine = h('p', { class: 'source', 'aria-live': 'polite' });
  const urlInput = h('input', { type: 'url', id: 'checkpoint-url', placeholder: 'run/checkpoint.safetensors', size: 30 });
  const urlButton = h('button', { type: 'button', text: 'Load URL' });
  const fileInput = h('input', { type: 'file', id: 'checkpoint-file', accept: '.safetensors' });
  const servedButton = h('button', { type: 'button', text: served.checkpoint ? `Load the served ${served.name ?? 'run'}` : served.live ? 'The run has no checkpoint yet' : 'No run served', disabled: !served.checkpoint });
  const randomButton = h('button', { type: 'button', text: 'Untrained 32×32 generator' });
  const drop = h(
    'div',
    { class: 'drop', id: 'drop-zone' },
    h('strong', { text: 'Checkpoint' }),
    servedButton,
    labelled('URL', urlInput),
    urlButton,
    labelled('File', fileInput),
    randomButton,
    h('span', { class: 'hint', text: '…or drop a .safetensors file here' }),
  );

  const seedInput = h('input', { type: 'number', id: 'seed', min: 0, step: 1, value: state.seed });
  const classSelect = h('select', { id: 'class', disabled: true }, h('option', { value: 0, text: 'unconditional model' }));
  const classLabel = labelled('Class', classSelect);
  classLabel.hidden = true;
  const countSelect = h('select', { id: 'count' }, ...[8, 16, 32, 64].map((n) => h('option', { value: n, text: String(n), selected: n === state.count })));
  const newButton = h('button', { type: 'button', text: 'New samples' });
  const gridDownload = h('button', { type: 'button', text: 'Download grid PNG' });
  const targetRadios = h(
    'fieldset',
    { class: 'targets' },
    h('legend', { text: 'Clicking a sample adds it to' }),
    ...GROUPS.map(({ id, label }) => h('label', {}, h('input', { type: 'radio', name: 'pick-target', value: id, checked: id === target }), ` ${label}`)),
  );
  const clearButton = h('button', { type: 'button', text: 'Clear picks' });
  const grid = h('div', { class: 'grid', role: 'group', 'aria-label': 'Samples; press a sample to pick it' });

  const modeRadios = h(
    'fieldset',
    { class: 'inline' },
    h('legend', { text: 'Path' }),
    h('label', {}, h('input', { type: 'radio', name: 'interp-mode', value: 'linear' }), ' linear'),
    h('label', {}, h('input', { type: 'radio', name: 'interp-mode', value: 'spherical', checked: true }), ' spherical (slerp)'),
  );
  const stepsInput = h('input', { type: 'range', id: 'interp-steps', min: 3, max: 16, value: state.interpolation.steps });
  const playButton = h('button', { type: 'button', text: 'Pause', 'aria-pressed': false });
  const stripDownload = h('button', { type: 'button', text: 'Download strip PNG' });
  const stripHolder = h('div', { class: 'strip-holder' });
  const animHolder = h('div', { class: 'anim-holder' });
  const interpNote = h('p', { class: 'hint', text: 'Pick two samples as interpolation ends.' });

  const arithHolder = h('div', { class: 'arith' });
  const arithNote = h('p', { class: 'hint', text: 'Pick samples into groups A, B and C: the result is mean A − mean B + mean C (the DCGAN paper’s “smiling woman − neutral woman + neutral man”).' });
  const arithDownload = h('button', { type: 'button', text: 'Download result PNG' });

  const sliderInputs = [0, 1, 2].map((i) => h('input', { type: 'range', id: `direction-${i}`, min: -8, max: 8, step: 0.5, value: 0 }));
  const sliderLabels = [0, 1, 2].map(() => h('span', { class: 'label-text' }));
  const sliderOutputs = [0, 1, 2].map((i) => h('output', { for: `direction-${i}`, text: '0' }));
  const sliderOut = h('div', { class: 'slider-out' });
  const sliderNote = h('p', { class: 'hint' });

  root.append(
    h('h2', { text: 'Latent explorer' }),
    h('p', { class: 'lead', text: 'The generator runs in this page, in a Web Worker, on the engine’s WebAssembly backend: every image below is computed here from its latent vector z. Pick samples to walk between them, to do arithmetic on their z, or to move along latent directions.' }),
    engineLine,
    drop,
    sourceLine,
    h('div', { class: 'panel' },
      h('h3', { text: 'Samples' }),
      h('div', { class: 'controls' }, labelled('Seed', seedInput), labelled('Count', countSelect), classLabel, newButton, gridDownload),
      h('div', { class: 'controls' }, targetRadios, clearButton),
      grid,
    ),
    h('div', { class: 'columns' },
      h('div', { class: 'panel' },
        h('h3', { text: 'Interpolation' }),
        interpNote,
        h('div', { class: 'controls' }, modeRadios, labelled('Steps', stepsInput), playButton, stripDownload),
        animHolder,
        stripHolder,
      ),
      h('div', { class: 'panel' },
        h('h3', { text: 'Vector arithmetic' }),
        arithNote,
        arithHolder,
        h('div', { class: 'controls' }, arithDownload),
      ),
      h('div', { class: 'panel' },
        h('h3', { text: 'Latent directions' }),
        sliderNote,
        h('div', { class: 'sliders' }, ...sliderInputs.flatMap((input, i) => [h('label', { for: input.id }, sliderLabels[i]!), input, sliderOutputs[i]!])),
        sliderOut,
      ),
    ),
  );

  // ---- helpers ----
  const setBusy = (busy: boolean): void => {
    state.busy = busy;
    root.classList.toggle('busy', busy);
  };
  const fail = (error: unknown): void => {
    state.error = error instanceof Error ? error.message : String(error);
    sourceLine.textContent = `Could not load: ${state.error}`;
    sourceLine.classList.add('error');
  };
  const render = async (z: Float32Array[]): Promise<Uint8ClampedArray<ArrayBuffer>> => {
    const nz = state.config!.nz;
    const packed = new Float32Array(z.length * nz);
    z.forEach((v, i) => packed.set(v, i * nz));
    return (await client.generate(packed, z.length, state.classes === null ? undefined : state.classIndex)).rgba;
  };
  const tile = (rgba: Uint8ClampedArray<ArrayBuffer>, i: number, label: string): HTMLCanvasElement => {
    const size = state.config!.imageSize;
    const c = canvas(size, size, label);
    drawImage(c, rgba, i, size);
    return c;
  };

  const drawGrid = async (): Promise<void> => {
    const { nz, imageSize } = state.config!;
    const noise = new Float32Array(state.count * nz);
    new Generator(state.seed).fillNormal(noise);
    gridZ = Array.from({ length: state.count }, (_, i) => noise.slice(i * nz, (i + 1) * nz));
    state.z = gridZ.map((v) => Array.from(v));
    const rgba = await render(gridZ);
    lastGrid = rgba;
    grid.replaceChildren(
      ...gridZ.map((_, i) => {
        const button = h('button', { type: 'button', class: 'tile', 'data-index': i, 'aria-label': `sample ${i}`, 'aria-pressed': false });
        const c = canvas(imageSize, imageSize, `sample ${i}`);
        c.removeAttribute('role');
        drawImage(c, rgba, i, imageSize);
        button.append(c, h('span', { class: 'badges' }));
        button.addEventListener('click', () => void pick(i, target));
        return button;
      }),
    );
    updateBadges();
  };

  const updateBadges = (): void => {
    grid.querySelectorAll<HTMLButtonElement>('.tile').forEach((button) => {
      const i = Number(button.dataset['index']);
      const tags = GROUPS.filter(({ id }) => state.picks[id].includes(i)).map(({ id }) => (id === 'ends' ? `end ${state.picks.ends.indexOf(i) + 1}` : id));
      button.querySelector('.badges')!.textContent = tags.join(' ');
      button.setAttribute('aria-pressed', String(tags.length > 0));
      button.setAttribute('aria-label', `sample ${i}${tags.length > 0 ? ` (${tags.join(', ')})` : ''}`);
    });
  };

  let animTimer: ReturnType<typeof setInterval> | null = null;
  let playing = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  const drawInterpolation = async (): Promise<void> => {
    if (animTimer !== null) clearInterval(animTimer);
    animTimer = null;
    const ends = state.picks.ends;
    if (ends.length < 2) {
      state.interpolation.z = [];
      stripHolder.replaceChildren();
      animHolder.replaceChildren();
      interpNote.textContent = ends.length === 0 ? 'Pick two samples as interpolation ends.' : 'Pick one more sample as the second end.';
      return;
    }
    const { nz, imageSize } = state.config!;
    const [a, b] = [gridZ[ends[0]!]!, gridZ[ends[1]!]!];
    const steps = state.interpolation.steps;
    const mix = state.interpolation.mode === 'spherical' ? models.slerp : models.lerp;
    const path = Array.from({ length: steps }, (_, s) => mix(a, b, s / (steps - 1), new Float32Array(nz)));
    state.interpolation.z = path.map((v) => Array.from(v));
    interpNote.textContent = `From sample ${ends[0]} to sample ${ends[1]}, ${steps} steps along a ${state.interpolation.mode === 'spherical' ? 'great circle' : 'straight line'}.`;
    const rgba = await render(path);
    const strip = canvas(steps * imageSize, imageSize, `interpolation strip, ${steps} images`, 'pixels strip');
    strip.id = 'interp-strip';
    for (let s = 0; s < steps; s++) drawImage(strip, rgba, s, imageSize, s * imageSize, 0);
    stripHolder.replaceChildren(strip);
    const anim = canvas(imageSize, imageSize, 'interpolation, animated', 'pixels big');
    animHolder.replaceChildren(anim);
    let frame = 0;
    let direction = 1;
    const show = (): void => {
      drawImage(anim, rgba, frame, imageSize);
      if (frame + direction < 0 || frame + direction >= steps) direction = -direction;
      frame += direction;
    };
    show();
    if (playing) animTimer = setInterval(show, 140);
    playButton.onclick = () => {
      playing = !playing;
      playButton.textContent = playing ? 'Pause' : 'Play';
      playButton.setAttribute('aria-pressed', String(!playing));
      if (animTimer !== null) clearInterval(animTimer);
      animTimer = playing ? setInterval(show, 140) : null;
    };
    playButton.textContent = playing ? 'Pause' : 'Play';
  };

  let arithCanvas: HTMLCanvasElement | null = null;
  const drawArithmetic = async (): Promise<void> => {
    const { A, B, C } = state.picks;
    arithCanvas = null;
    if (A.length === 0 || B.length === 0 || C.length === 0) {
      state.arithmetic.z = null;
      arithHolder.replaceChildren(h('p', { class: 'hint', text: `Groups so far: A ${A.length}, B ${B.length}, C ${C.length} (each needs at least one).` }));
      return;
    }
    const nz = state.config!.nz;
    const means = [A, B, C].map((group) => mean(group.map((i) => gridZ[i]!), nz));
    const result = new Float32Array(nz);
    for (let i = 0; i < nz; i++) result[i] = means[0]![i]! - means[1]![i]! + means[2]![i]!;
    state.arithmetic.z = Array.from(result);
    const rgba = await render([...means, result]);
    const cell = (i: number, label: string): HTMLElement => h('figure', {}, tile(rgba, i, label), h('figcaption', { text: label }));
    arithCanvas = tile(rgba, 3, 'result: mean A − mean B + mean C');
    arithCanvas.classList.add('big');
    arithCanvas.id = 'arith-result';
    arithHolder.replaceChildren(
      cell(0, `mean A (${A.length})`),
      h('span', { class: 'op', text: '−' }),
      cell(1, `mean B (${B.length})`),
      h('span', { class: 'op', text: '+' }),
      cell(2, `mean C (${C.length})`),
      h('span', { class: 'op', text: '=' }),
      h('figure', {}, arithCanvas, h('figcaption', { text: 'result' })),
    );
  };

  let directions: Float32Array[] = [];
  const setupDirections = (): void => {
    const nz = state.config!.nz;
    const { A, B } = state.picks;
    const random = (k: number): Float32Array => unit(new Generator(1000 + k).fillNormal(new Float32Array(nz)));
    const names: string[] = [];
    directions = [0, 1, 2].map((k) => {
      if (k === 0 && A.length > 0 && B.length > 0) {
        const d = mean(A.map((i) => gridZ[i]!), nz);
        const m = mean(B.map((i) => gridZ[i]!), nz);
        names.push('mean A − mean B');
        return unit(d.map((x, i) => x - m[i]!));
      }
      names.push(`random ${k + 1}`);
      return random(k);
    });
    sliderLabels.forEach((label, k) => (label.textContent = names[k]!));
  };
  const sliderBase = (): { z: Float32Array; name: string } | null => {
    if (state.arithmetic.z !== null) return { z: Float32Array.from(state.arithmetic.z), name: 'the arithmetic result' };
    const first = [...state.picks.ends, ...state.picks.A, ...state.picks.B, ...state.picks.C][0];
    if (first !== undefined) return { z: gridZ[first]!, name: `sample ${first}` };
    return gridZ.length > 0 ? { z: gridZ[0]!, name: 'sample 0' } : null;
  };
  let sliderCanvas: HTMLCanvasElement | null = null;
  const drawSliders = async (): Promise<void> => {
    const base = sliderBase();
    if (base === null) return;
    const nz = state.config!.nz;
    const values = sliderInputs.map((input) => Number(input.value));
    const z = Float32Array.from(base.z);
    values.forEach((v, k) => {
      for (let i = 0; i < nz; i++) z[i] += v * directions[k]![i]!;
    });
    state.sliders = { base: Array.from(base.z), values, z: Array.from(z) };
    sliderNote.textContent = `From ${base.name}, each slider moves z along a unit direction (‖z‖ is about ${Math.sqrt(nz).toFixed(0)}): the first along mean A − mean B once both groups have picks, the others along fixed random directions.`;
    sliderInputs.forEach((input, k) => {
      input.setAttribute('aria-valuetext', `${values[k]}`);
      sliderOutputs[k]!.textContent = values[k]!.toFixed(1);
    });
    const rgba = await render([z]);
    sliderCanvas = tile(rgba, 0, 'image at the slider position');
    sliderCanvas.classList.add('big');
    sliderOut.replaceChildren(sliderCanvas);
  };

  // Serialises redraws: each waits for the previous.
  let chain = Promise.resolve();
  const run = (what: () => Promise<void>): Promise<void> => {
    chain = chain.then(async () => {
      setBusy(true);
      try {
        await what();
        state.renders++;
      } catch (error) {
        fail(error);
      } finally {
        setBusy(false);
      }
    });
    return chain;
  };
  const redrawPicks = async (): Promise<void> => {
    updateBadges();
    await drawInterpolation();
    await drawArithmetic();
    setupDirections();
    await drawSliders();
  };

  const pick = (i: number, group: Group): Promise<void> =>
    run(async () => {
      const list = state.picks[group];
      const at = list.indexOf(i);
      if (at >= 0) list.splice(at, 1);
      else {
        list.push(i);
        if (group === 'ends' && list.length > 2) list.shift();
      }
      await redrawPicks();
    });

  const afterLoad = async (loaded: { config: models.DcganConfig; step: number | null; name: string; classes: string[] | null }): Promise<void> => {
    state.config = loaded.config;
    state.classes = loaded.classes;
    state.classIndex = 0;
    classSelect.replaceChildren(...(loaded.classes ?? []).map((name, i) => h('option', { value: i, text: name })));
    classSelect.disabled = loaded.classes === null;
    classLabel.hidden = loaded.classes === null;
    state.source = loaded.name;
    state.error = null;
    sourceLine.classList.remove('error');
    const c = loaded.config;
    sourceLine.textContent = `${loaded.name}: ${c.imageSize}×${c.imageSize}×${c.channels}, nz ${c.nz}, ngf ${c.ngf}${loaded.step === null ? '' : `, trained ${loaded.step} steps`}`;
    state.picks = { ends: [], A: [], B: [], C: [] };
    sliderInputs.forEach((input) => (input.value = '0'));
    await drawGrid();
    await redrawPicks();
    state.ready = true;
  };

  const engineReady = client.init(Math.max(2, Math.min(navigator.hardwareConcurrency || 2, 8))).then(({ engine }) => {
    state.engine = engine;
    engineLine.textContent = `Engine: ${describeEngine(engine)}`;
  });
  engineReady.catch(fail);

  const loadBytes = (bytes: ArrayBuffer, name: string): Promise<void> =>
    run(async () => {
      await engineReady;
      sourceLine.textContent = `Loading ${name}…`;
      await afterLoad(await client.load(bytes, name));
    });
  const loadUrl = (url: string): Promise<void> =>
    run(async () => {
      await engineReady;
      sourceLine.textContent = `Fetching ${url}…`;
      const response = await fetch(url);
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      await afterLoad(await client.load(await response.arrayBuffer(), url.split('/').pop() ?? url));
    });

  // ---- events ----
  servedButton.addEventListener('click', () => {
    servedButton.classList.remove('fresh');
    servedButton.textContent = `Load the served ${served.name ?? 'run'}`;
    void loadUrl('run/checkpoint.safetensors');
  });
  urlButton.addEventListener('click', () => void loadUrl(urlInput.value.trim() || 'run/checkpoint.safetensors'));
  urlInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') void loadUrl(urlInput.value.trim());
  });
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    if (file !== undefined) void file.arrayBuffer().then((bytes) => loadBytes(bytes, file.name));
  });
  randomButton.addEventListener('click', () =>
    void run(async () => {
      await engineReady;
      await afterLoad(await client.random({ imageSize: 32, channels: 3 }, state.seed));
    }),
  );
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    const file = event.dataTransfer?.files[0];
    if (file !== undefined) void file.arrayBuffer().then((bytes) => loadBytes(bytes, file.name));
  });
  const regrid = (): Promise<void> =>
    run(async () => {
      if (state.config === null) return;
      state.seed = Math.max(0, Math.floor(Number(seedInput.value) || 0));
      state.count = Number(countSelect.value);
      state.picks = { ends: [], A: [], B: [], C: [] };
      await drawGrid();
      await redrawPicks();
    });
  seedInput.addEventListener('change', () => void regrid());
  countSelect.addEventListener('change', () => void regrid());
  newButton.addEventListener('click', () => {
    seedInput.value = String(Number(seedInput.value) + 1);
    void regrid();
  });
  clearButton.addEventListener('click', () =>
    void run(async () => {
      state.picks = { ends: [], A: [], B: [], C: [] };
      await redrawPicks();
    }),
  );
  targetRadios.addEventListener('change', (event) => {
    target = (event.target as HTMLInputElement).value as Group;
  });
  const setMode = (mode: 'linear' | 'spherical'): Promise<void> =>
    run(async () => {
      state.interpolation.mode = mode;
      modeRadios.querySelectorAll<HTMLInputElement>('input').forEach((input) => (input.checked = input.value === mode));
      await drawInterpolation();
    });
  modeRadios.addEventListener('change', (event) => void setMode((event.target as HTMLInputElement).value as 'linear' | 'spherical'));
  /** A conditional generator draws every image from this class: the grid, the picks and the results are redrawn. */
  const setClass = (index: number): Promise<void> =>
    run(async () => {
      state.classIndex = index;
      classSelect.value = String(index);
      await drawGrid();
      await redrawPicks();
    });
  classSelect.addEventListener('change', () => void setClass(Number(classSelect.value)));
  stepsInput.addEventListener('change', () =>
    void run(async () => {
      state.interpolation.steps = Number(stepsInput.value);
      await drawInterpolation();
    }),
  );
  sliderInputs.forEach((input) => input.addEventListener('input', () => void run(drawSliders)));
  gridDownload.addEventListener('click', () => {
    if (lastGrid !== null && state.config !== null) downloadCanvas(gridCanvas(lastGrid, state.count, state.config.imageSize), `samples-seed${state.seed}.png`);
  });
  stripDownload.addEventListener('click', () => {
    const strip = stripHolder.querySelector('canvas');
    if (strip !== null) downloadCanvas(strip, `interpolation-${state.interpolation.mode}.png`);
  });
  arithDownload.addEventListener('click', () => {
    if (arithCanvas !== null) downloadCanvas(arithCanvas, 'arithmetic.png');
  });

  if (served.checkpoint) void loadUrl('run/checkpoint.safetensors');
  if (served.live) {
    // While the served run trains, offer its newer checkpoints.
    const events = new EventSource('api/events');
    events.addEventListener('checkpoint', () => {
      servedButton.disabled = false;
      servedButton.textContent = 'Load the run’s newer checkpoint';
      servedButton.classList.add('fresh');
    });
  }
  else sourceLine.textContent = 'No checkpoint yet: load one by URL or file, drop one here, or try an untrained generator.';

  return {
    state,
    loadUrl,
    loadBytes,
    setSeed: (seed) => {
      seedInput.value = String(seed);
      return regrid();
    },
    pick,
    setMode,
    setClass,
  };
}
