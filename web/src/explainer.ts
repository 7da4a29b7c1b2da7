/**
 * The interactive `dcgan explain`: a geometry (input size, kernel, stride, padding) gives the
 * sparse matrix C with y = C·x; the page shows the kernel, C with w(i,j) in place, x, y = C·x
 * and Cᵀ·y, highlights the matching cells on hover or focus, and runs the engine's real
 * conv2d and convTranspose2d on the same numbers to show they agree.
 */
import { explain, functional, Generator, noGrad, randn, tensor, tidy } from '../../src/core.js';
import { h, labelled } from './dom.js';
import { describeEngine, startEngine, type EngineInfo } from './engine.js';

/** What the tests read (window.__dcgan.explainer). */
export interface ExplainerState {
  ready: boolean;
  error: string | null;
  spec: explain.ConvMatrixSpec | null;
  /** explanationJson of the same geometry and seed, as `dcgan explain --json` prints it. */
  json: unknown;
  x: number[];
  y: number[];
  cty: number[];
  /** max |C·x − conv2d(x, w)| and max |Cᵀ·y − convTranspose2d(y, w)| as the engine computed them here. */
  engineDiff: { conv2d: number; convTranspose2d: number } | null;
  engine: EngineInfo | null;
  renders: number;
}

export interface ExplainerApi {
  state: ExplainerState;
  set(values: { input?: number; kernel?: number; stride?: number; padding?: number; seed?: number }): Promise<void>;
}

const fmt = (v: number): string => (Math.abs(v) < 5e-5 ? '0.00' : v.toFixed(2));

export function createExplainer(root: HTMLElement): ExplainerApi {
  const state: ExplainerState = { ready: false, error: null, spec: null, json: null, x: [], y: [], cty: [], engineDiff: null, engine: null, renders: 0 };
  const number = (id: string, min: number, max: number, value: number): HTMLInputElement => h('input', { type: 'number', id, min, max, step: 1, value });
  const inputs = {
    input: number('ex-input', 1, 8, 4),
    kernel: number('ex-kernel', 1, 5, 3),
    stride: number('ex-stride', 1, 4, 1),
    padding: number('ex-padding', 0, 3, 0),
    seed: number('ex-seed', 0, 1e6, 0),
  };
  const formula = h('p', { class: 'formula', 'aria-live': 'polite', text: 'Hover over y, x, w, an entry of C or Cᵀ·y to see the sum behind it.' });
  const verdict = h('p', { class: 'verdict', id: 'ex-verdict', 'aria-live': 'polite' });
  const intro = h('p', { class: 'lead' });
  const top = h('div', { class: 'ex-row' });
  const matrix = h('div', { class: 'ex-matrix' });
  const back = h('div', { class: 'ex-row' });
  const cells = new Map<string, HTMLElement[]>();

  root.append(
    h('h2', { text: 'Convolution as a matrix' }),
    h('p', { class: 'lead', text: 'Flatten the input x row by row and the output y too: a convolution is then y = C·x with a sparse matrix C that holds the kernel weights w(i,j) in place, and a transposed convolution is the product with Cᵀ. Hover over (or tab to) a number to see which entries meet.' }),
    h('div', { class: 'controls' },
      labelled('Input size', inputs.input),
      labelled('Kernel', inputs.kernel),
      labelled('Stride', inputs.stride),
      labelled('Padding', inputs.padding),
      labelled('Seed', inputs.seed),
    ),
    verdict,
    intro,
    formula,
    top,
    matrix,
    back,
  );

  const register = (key: string, el: HTMLElement): HTMLElement => {
    el.dataset['key'] = key;
    const list = cells.get(key);
    if (list === undefined) cells.set(key, [el]);
    else list.push(el);
    return el;
  };

  let related: (key: string) => string[] = () => [];
  let explainKey: (key: string) => string = () => '';
  const highlight = (key: string | null): void => {
    root.querySelectorAll('.hl, .hl-main').forEach((el) => el.classList.remove('hl', 'hl-main'));
    if (key === null) return;
    const text = explainKey(key);
    if (text !== '') formula.textContent = text;
    for (const k of related(key)) for (const el of cells.get(k) ?? []) el.classList.add('hl');
    for (const el of cells.get(key) ?? []) el.classList.add('hl-main');
  };
  root.addEventListener('mouseover', (event) => highlight((event.target as HTMLElement).closest<HTMLElement>('[data-key]')?.dataset['key'] ?? null));
  root.addEventListener('focusin', (event) => highlight((event.target as HTMLElement).closest<HTMLElement>('[data-key]')?.dataset['key'] ?? null));
  root.addEventListener('mouseleave', () => highlight(null));

  /** A grid of values (h×w), each cell with a key. */
  const valueGrid = (title: string, rows: number, cols: number, values: ArrayLike<number>, key: (i: number) => string, name: (i: number) => string, focusable: boolean): HTMLElement =>
    h('figure', { class: 'ex-grid-fig' },
      h('figcaption', { text: title }),
      h('div', { class: 'ex-grid', style: `grid-template-columns: repeat(${cols}, auto)`, role: 'group', 'aria-label': title },
        ...Array.from({ length: rows * cols }, (_, i) =>
          register(key(i), h('span', { class: 'ex-cell', tabindex: focusable ? 0 : undefined, title: `${name(i)} = ${values[i]}`, 'aria-label': `${name(i)} = ${fmt(values[i]!)}` },
            h('small', { text: name(i) }), fmt(values[i]!))),
        ),
      ),
    );

  const build = (): void => {
    const read = (input: HTMLInputElement, min: number, max: number): number => Math.min(max, Math.max(min, Math.round(Number(input.value) || 0)));
    const size = read(inputs.input, 1, 8);
    const k = read(inputs.kernel, 1, 5);
    const stride = read(inputs.stride, 1, 4);
    const padding = read(inputs.padding, 0, 3);
    const seed = read(inputs.seed, 0, 1e6);
    const spec = explain.squareSpec(size, k, stride, padding);
    cells.clear();
    let result: explain.ExplainResult;
    try {
      result = explain.explainConvolution(spec, seed);
    } catch (error) {
      state.error = error instanceof Error ? error.message : String(error);
      state.spec = spec;
      state.json = null;
      verdict.textContent = `No valid output for this geometry: ${state.error}`;
      verdict.className = 'verdict bad';
      top.replaceChildren();
      matrix.replaceChildren();
      back.replaceChildren();
      intro.textContent = '';
      return;
    }
    state.error = null;
    state.spec = spec;
    state.json = explain.explanationJson(result);
    const c = result.matrix;
    const { rows, cols, outH, outW, entries } = c;

    // The same numbers as the checks: w, then x, then y from the seed (explainConvolution's order).
    const values = tidy(() => {
      const generator = new Generator(seed);
      const w = randn([1, 1, k, k], { generator });
      const x = randn([1, 1, size, size], { generator });
      const dense = explain.denseMatrix(c, w.data);
      const y = explain.matVec(dense, rows, cols, x.data);
      const cty = explain.matVec(dense, rows, cols, y, true);
      // The engine's own kernels on the same numbers.
      const conv = noGrad(() => functional.conv2d(x, w, null, { stride, padding }));
      const yT = tensor(Float32Array.from(y), [1, 1, outH, outW]);
      const convT = noGrad(() => functional.convTranspose2d(yT, w, null, { stride, padding, outputSize: [size, size] }));
      let d1 = 0;
      let d2 = 0;
      y.forEach((v, i) => (d1 = Math.max(d1, Math.abs(v - conv.data[i]!))));
      cty.forEach((v, i) => (d2 = Math.max(d2, Math.abs(v - convT.data[i]!))));
      return { w: Array.from(w.data), x: Array.from(x.data), y: Array.from(y), cty: Array.from(cty), d1, d2 };
    });
    state.x = values.x;
    state.y = values.y;
    state.cty = values.cty;
    state.engineDiff = { conv2d: values.d1, convTranspose2d: values.d2 };

    const nonzeros = entries.reduce((n, e) => n + (e >= 0 ? 1 : 0), 0);
    intro.textContent = `Input ${size}×${size} (x0…x${cols - 1}), kernel ${k}×${k}, stride ${stride}, padding ${padding} → output ${outH}×${outW} (y0…y${rows - 1}). C is ${rows}×${cols} with ${nonzeros} nonzeros of ${rows * cols}.${result.outputPadding > 0 ? ` The transposed convolution needs output padding ${result.outputPadding} to map back onto ${size}×${size}.` : ''}`;

    const rowOf = (r: number): number[] => Array.from({ length: cols }, (_, col) => col).filter((col) => entries[r * cols + col]! >= 0);
    const colOf = (col: number): number[] => Array.from({ length: rows }, (_, r) => r).filter((r) => entries[r * cols + col]! >= 0);
    const entryKeys = (r: number, col: number): string[] => [`C-${r}-${col}`, `CT-${col}-${r}`, `y-${r}`, `x-${col}`, `xp-${col}`, `w-${entries[r * cols + col]}`];
    related = (key) => {
      const [kind, a, b] = key.split('-') as [string, string, string | undefined];
      const n = Number(a);
      if (kind === 'C') return entryKeys(n, Number(b));
      if (kind === 'CT') return entryKeys(Number(b), n);
      if (kind === 'y') return rowOf(n).flatMap((col) => entryKeys(n, col));
      if (kind === 'x' || kind === 'xp') return colOf(n).flatMap((r) => entryKeys(r, n));
      if (kind === 'w') {
        const out: string[] = [];
        entries.forEach((e, i) => {
          if (e === n) out.push(`C-${Math.floor(i / cols)}-${i % cols}`, `CT-${i % cols}-${Math.floor(i / cols)}`);
        });
        return out;
      }
      return [];
    };

    const w = (e: number): string => `w(${Math.floor(e / k)},${e % k})`;
    const num = (v: number): string => (v < 0 ? `(${fmt(v)})` : fmt(v));
    explainKey = (key) => {
      const [kind, a, b] = key.split('-') as [string, string, string | undefined];
      const n = Number(a);
      if (kind === 'y') {
        const terms = rowOf(n).map((col) => `${w(entries[n * cols + col]!)}·x${col}`);
        const values2 = rowOf(n).map((col) => `${num(values.w[entries[n * cols + col]!]!)}·${num(values.x[col]!)}`);
        return `y${n} = ${terms.join(' + ')} = ${values2.join(' + ')} = ${fmt(values.y[n]!)}`;
      }
      if (kind === 'xp') {
        const terms = colOf(n).map((r) => `${w(entries[r * cols + n]!)}·y${r}`);
        return `(Cᵀ·y)${n} = ${terms.length === 0 ? '0 (no output sees this input)' : `${terms.join(' + ')} = ${fmt(values.cty[n]!)}`}`;
      }
      if (kind === 'x') {
        const outs = colOf(n).map((r) => `y${r} (through ${w(entries[r * cols + n]!)})`);
        return `x${n} reaches ${outs.length === 0 ? 'no output' : outs.join(', ')}.`;
      }
      if (kind === 'C' || kind === 'CT') {
        const [r, col] = kind === 'C' ? [n, Number(b)] : [Number(b), n];
        const e = entries[r * cols + col]!;
        return `C[${r}][${col}] = ${w(e)} = ${fmt(values.w[e]!)}: output y${r} takes ${fmt(values.w[e]!)} × x${col}, and Cᵀ sends y${r} back to x'${col} with the same weight.`;
      }
      if (kind === 'w') return `${w(n)} = ${fmt(values.w[n]!)} appears ${entries.filter((e) => e === n).length} times in C: once for each output whose window holds it.`;
      return '';
    };

    top.replaceChildren(
      valueGrid(`kernel w (${k}×${k})`, k, k, values.w, (i) => `w-${i}`, (i) => `w(${Math.floor(i / k)},${i % k})`, true),
      valueGrid(`input x (${size}×${size})`, size, size, values.x, (i) => `x-${i}`, (i) => `x${i}`, true),
      valueGrid(`y = C·x (${outH}×${outW})`, outH, outW, values.y, (i) => `y-${i}`, (i) => `y${i}`, true),
    );

    const label = (e: number): string => (e < 0 ? '·' : `w(${Math.floor(e / k)},${e % k})`);
    const table = (caption: string, nr: number, nc: number, entry: (r: number, col: number) => number, key: (r: number, col: number) => string, rowName: (r: number) => string, colName: (col: number) => string, id: string): HTMLElement =>
      h('div', { class: 'ex-table-wrap' },
        h('table', { class: 'ex-table', id },
          h('caption', { text: caption }),
          h('thead', {}, h('tr', {}, h('th', {}), ...Array.from({ length: nc }, (_, col) => h('th', { scope: 'col', text: colName(col) })))),
          h('tbody', {},
            ...Array.from({ length: nr }, (_, r) =>
              h('tr', {}, h('th', { scope: 'row', text: rowName(r) }),
                ...Array.from({ length: nc }, (_, col) => {
                  const e = entry(r, col);
                  const td = h('td', { class: e < 0 ? 'zero' : 'w', text: label(e), title: e < 0 ? '0' : `${label(e)} = ${values.w[e]}` });
                  return e < 0 ? td : register(key(r, col), td);
                }),
              ),
            ),
          ),
        ),
      );
    matrix.replaceChildren(
      table(`C (${rows}×${cols}): row r holds the weights that output y_r applies to each input pixel`, rows, cols, (r, col) => entries[r * cols + col]!, (r, col) => `C-${r}-${col}`, (r) => `y${r}`, (col) => `x${col}`, 'ex-c'),
    );
    back.replaceChildren(
      valueGrid(`Cᵀ·y (${size}×${size}): the transposed convolution of y`, size, size, values.cty, (i) => `xp-${i}`, (i) => `x'${i}`, true),
      h('details', { class: 'ex-ct' },
        h('summary', { text: `Cᵀ (${cols}×${rows})` }),
        table(`Cᵀ (${cols}×${rows})`, cols, rows, (r, col) => entries[col * cols + r]!, (r, col) => `CT-${r}-${col}`, (r) => `x'${r}`, (col) => `y${col}`, 'ex-ct-table'),
      ),
      h('div', { class: 'ex-checks' },
        h('p', { class: 'hint', text: 'Cᵀ·y has the input’s shape but not its values: Cᵀ is the transpose of C, not its inverse. It is also the gradient of y·conv2d(x, w) with respect to x, which is why a transposed convolution and conv2d’s backward pass are the same kernel.' }),
        h('h3', { text: 'Checks with random x, w and y (as dcgan explain runs them)' }),
        h('ul', {}, ...result.checks.map((check) => h('li', { class: check.ok ? 'ok' : 'bad', text: `${check.ok ? '✓' : '✗'} ${check.name}: max |diff| ${check.maxAbsDiff.toExponential(1)} (tolerance ${check.tolerance.toExponential(0)})` }))),
      ),
    );
    const ok = result.ok && values.d1 <= 1e-5 * Math.max(1, ...values.y.map(Math.abs)) && values.d2 <= 1e-5 * Math.max(1, ...values.cty.map(Math.abs));
    const engineName = state.engine === null ? 'the engine' : `the engine (${state.engine.backend} backend)`;
    verdict.textContent = ok
      ? `✓ In this page, ${engineName} ran its real conv2d and convTranspose2d on these numbers and computed the same values as C·x and Cᵀ·y (max |diff| ${values.d1.toExponential(1)} and ${values.d2.toExponential(1)}).`
      : `✗ The engine's conv2d / convTranspose2d disagree with the matrix (max |diff| ${values.d1.toExponential(1)}, ${values.d2.toExponential(1)}).`;
    verdict.className = ok ? 'verdict good' : 'verdict bad';
    state.renders++;
  };

  for (const input of Object.values(inputs)) input.addEventListener('change', build);
  const ready = startEngine(1).then((info) => {
    state.engine = info;
    root.querySelector('.ex-engine')?.remove();
    root.append(h('p', { class: 'hint ex-engine', text: `Engine in this page: ${describeEngine(info)}.` }));
    build();
    state.ready = true;
  });

  return {
    state,
    set: async (values) => {
      await ready;
      for (const [key, value] of Object.entries(values)) if (value !== undefined) inputs[key as keyof typeof inputs].value = String(value);
      build();
    },
  };
}
