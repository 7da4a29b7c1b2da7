import type { ExplainResult } from './explain.js';

const MAX_PRINTED_COLUMNS = 36;

function label(k: number, kw: number): string {
  return k < 0 ? '·' : `w(${Math.floor(k / kw)},${k % kw})`;
}

function table(rows: string[][], header: string[], rowNames: string[]): string {
  const width = Math.max(...header.map((s) => s.length), ...rows.flat().map((s) => s.length));
  const nameWidth = Math.max(...rowNames.map((s) => s.length));
  const pad = (s: string): string => s.padStart(width);
  const lines = [`${' '.repeat(nameWidth)}  ${header.map(pad).join(' ')}`];
  rows.forEach((r, i) => lines.push(`${rowNames[i]!.padStart(nameWidth)}  ${r.map(pad).join(' ')}`));
  return lines.join('\n');
}

/** The human-readable explanation printed by `dcgan explain`. */
export function formatExplanation(result: ExplainResult): string {
  const { matrix, spec } = result;
  const { rows, cols, outH, outW, entries } = matrix;
  const kw = spec.kernelW;
  const nonzeros = entries.reduce((n, k) => n + (k >= 0 ? 1 : 0), 0);
  const out: string[] = [];
  out.push(
    `Convolution as a matrix: input ${spec.inputH}×${spec.inputW}, kernel ${spec.kernelH}×${spec.kernelW}, stride ${spec.stride}, padding ${spec.padding} → output ${outH}×${outW}`,
    '',
    `Flatten the input x row by row into ${cols} values and the output y into ${rows}. The convolution is then`,
    `y = C·x, where C is a sparse ${rows}×${cols} matrix: row r holds the kernel weights w(i,j) at the input`,
    `pixels that output r sees, and zeros (·) elsewhere — ${nonzeros} nonzeros of ${rows * cols} (${((100 * (rows * cols - nonzeros)) / (rows * cols)).toFixed(0)}% zeros).`,
    '',
  );
  if (cols <= MAX_PRINTED_COLUMNS) {
    const cRows = Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => label(entries[r * cols + c]!, kw)));
    out.push(`C (${rows}×${cols}):`, table(cRows, Array.from({ length: cols }, (_, c) => `x${c}`), Array.from({ length: rows }, (_, r) => `y${r}`)), '');
    const tRows = Array.from({ length: cols }, (_, c) => Array.from({ length: rows }, (_, r) => label(entries[r * cols + c]!, kw)));
    out.push(
      `The transposed convolution maps the other way: x' = Cᵀ·y, a ${cols}×${rows} matrix times ${rows} values, reshaped to ${spec.inputH}×${spec.inputW}.`,
      `Cᵀ (${cols}×${rows}):`,
      table(tRows, Array.from({ length: rows }, (_, r) => `y${r}`), Array.from({ length: cols }, (_, c) => `x'${c}`)),
      '',
    );
  } else {
    out.push(`(C has ${cols} columns, too wide to print; use --json for every entry.)`, '');
  }
  out.push(
    'No framework builds C (it is mostly zeros). They lower the convolution to one dense GEMM instead:',
    '  conv2d:          cols = im2col(x); y = W·cols',
    '  convTranspose2d: cols = Wᵀ·y; x\' = col2im(cols)   — the same as conv2d\'s input gradient',
    '',
    'Checks with random x, w and y (the real kernels against the matrix):',
  );
  for (const check of result.checks) {
    out.push(`  ${check.ok ? '✓' : '✗'} ${check.name.padEnd(34)} max |diff| ${check.maxAbsDiff.toExponential(1)} (tolerance ${check.tolerance.toExponential(0)})`);
  }
  if (result.outputPadding > 0) out.push(`  (the transposed convolution used outputPadding ${result.outputPadding} to map back onto ${spec.inputH}×${spec.inputW})`);
  out.push('', result.ok ? 'Both checks hold: convolution is multiplication by C, transposed convolution by Cᵀ.' : 'A CHECK FAILED: the kernels disagree with the matrix.');
  return out.join('\n');
}

/** The machine-readable form for `dcgan explain --json`. */
export function explanationJson(result: ExplainResult): object {
  const { matrix } = result;
  const kw = result.spec.kernelW;
  const rowsOf = (transpose: boolean): string[][] => {
    const [nr, nc] = transpose ? [matrix.cols, matrix.rows] : [matrix.rows, matrix.cols];
    return Array.from({ length: nr }, (_, r) =>
      Array.from({ length: nc }, (_, c) => label(transpose ? matrix.entries[c * matrix.cols + r]! : matrix.entries[r * matrix.cols + c]!, kw)),
    );
  };
  return {
    spec: result.spec,
    output: { height: matrix.outH, width: matrix.outW },
    outputPadding: result.outputPadding,
    C: { rows: matrix.rows, cols: matrix.cols, entries: rowsOf(false) },
    CT: { rows: matrix.cols, cols: matrix.rows, entries: rowsOf(true) },
    kernel: result.kernel,
    checks: result.checks,
    ok: result.ok,
  };
}
