/** Small DOM helpers: elements with attributes and children, canvases from RGBA bytes, downloads. */
type Attrs = Record<string, string | number | boolean | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Array<Node | string | null | undefined>): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children) if (child !== null && child !== undefined) el.append(child);
  return el;
}

/** A labelled form control: <label>text <control></label>. */
export function labelled(text: string, control: HTMLElement, hint?: string): HTMLLabelElement {
  return h('label', { class: 'field' }, h('span', { class: 'label-text', text }), control, hint === undefined ? null : h('span', { class: 'hint', text: hint }));
}

/** Draws image `index` of a batch of RGBA images into a canvas (at the image's own size). */
export function drawImage(canvas: HTMLCanvasElement, rgba: Uint8ClampedArray<ArrayBuffer>, index: number, size: number, x = 0, y = 0): void {
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (ctx === null) return;
  const plane = size * size * 4;
  ctx.putImageData(new ImageData(rgba.slice(index * plane, (index + 1) * plane), size, size), x, y);
}

export function canvas(width: number, height: number, label: string, className = 'pixels'): HTMLCanvasElement {
  return h('canvas', { width, height, class: className, role: 'img', 'aria-label': label });
}

/** Saves a canvas as a PNG file. */
export function downloadCanvas(c: HTMLCanvasElement, name: string): void {
  c.toBlob((blob) => {
    if (blob !== null) downloadBlob(blob, name);
  }, 'image/png');
}

export function downloadBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A grid image laid out as the CLI's grids (torchvision make_grid: `nrow` per row, 2 px padding, black). */
export function gridCanvas(rgba: Uint8ClampedArray<ArrayBuffer>, n: number, size: number, nrow = 8): HTMLCanvasElement {
  const pad = 2;
  const cols = Math.min(nrow, n);
  const rows = Math.ceil(n / cols);
  const c = h('canvas', { width: cols * (size + pad) + pad, height: rows * (size + pad) + pad });
  const ctx = c.getContext('2d')!;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, c.width, c.height);
  for (let i = 0; i < n; i++) drawImage(c, rgba, i, size, pad + (i % cols) * (size + pad), pad + Math.floor(i / cols) * (size + pad));
  return c;
}
