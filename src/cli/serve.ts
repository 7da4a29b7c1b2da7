/**
 * `dcgan serve`: the web app (dist/web, built by `npm run build`) and, optionally, one run
 * folder or one checkpoint, on a local HTTP server.
 *
 * - Every response carries COOP `same-origin`, COEP `require-corp` and CORP `same-origin`, so
 *   the pages are cross-origin isolated (SharedArrayBuffer, wasm threads in Web Workers).
 * - It binds 127.0.0.1 unless told otherwise, answers only GET and HEAD, and refuses requests
 *   whose Host is not the bound address (DNS rebinding) or whose Origin is another site.
 * - It serves the app's files (through sirv, which only serves files that exist under dist/web)
 *   and, under /run/, files of the named run folder: never a path with `..`, an absolute path,
 *   or a symbolic link that leads out of the folder.
 *
 * Routes: `/` and the app's files; `/api/run` (config, metrics so far, grids, checkpoint);
 * `/api/events` (server-sent events: a `snapshot`, then `metrics` with new metrics.jsonl lines,
 * `sample` for each new grid in samples/, `checkpoint` when the checkpoint changes);
 * `/run/<file>` (the run's PNGs, JSON, metrics and checkpoint).
 */
import { Command } from 'commander';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, extname, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';
import { intOption, UsageError } from './errors.js';

export interface ServeOptions {
  /** A run folder (config.json, metrics.jsonl, samples/, checkpoint.safetensors) to serve live. */
  run?: string;
  /** A single checkpoint file to serve as /run/checkpoint.safetensors (instead of a run). */
  checkpoint?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The built app; default dist/web of this package. */
  appDir?: string;
  /** How often the run folder is checked for changes while someone listens, in ms (default 500). */
  pollMs?: number;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:8080/ */
  url: string;
  close(): Promise<void>;
}

/** One line of metrics.jsonl, as the trainer writes it. */
type MetricsRecord = Record<string, unknown>;

const SECURITY_HEADERS: Record<string, string> = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const RUN_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.jsonl': 'application/x-ndjson; charset=utf-8',
  '.safetensors': 'application/octet-stream',
};

/** dist/web next to this module (dist/cli/serve.js), or the build's dist/web when running from src/. */
export function defaultAppDir(): string {
  const built = fileURLToPath(new URL('../web/', import.meta.url));
  if (existsSync(join(built, 'index.html'))) return built;
  return fileURLToPath(new URL('../../dist/web/', import.meta.url));
}

/** Hosts a loopback or named binding answers to; null when bound to every interface. */
function allowedHosts(host: string, port: number): Set<string> | null {
  if (host === '0.0.0.0' || host === '::' || host === '') return null;
  const bracket = host.includes(':') ? `[${host}]` : host;
  const hosts = new Set([`${bracket}:${port}`]);
  if (host === '127.0.0.1' || host === '::1' || host === 'localhost') {
    hosts.add(`localhost:${port}`).add(`127.0.0.1:${port}`).add(`[::1]:${port}`);
  }
  return hosts;
}

/** Watches a run folder by polling: new metrics lines, new grids, a rewritten checkpoint. */
class RunWatcher {
  metrics: MetricsRecord[] = [];
  samples: string[] = [];
  checkpointStamp = '';
  config: unknown = null;
  private offset = 0;
  private partial = '';

  constructor(readonly dir: string) {
    this.refresh();
  }

  /** Reads what changed since the last call. */
  refresh(): { metrics: MetricsRecord[]; samples: string[]; checkpoint: boolean; reset: boolean } {
    const change = { metrics: [] as MetricsRecord[], samples: [] as string[], checkpoint: false, reset: false };
    if (this.config === null) {
      // A run that is just starting writes config.json first: send everything again once it is there.
      this.config = readJson(join(this.dir, 'config.json'));
      change.reset = this.config !== null;
    }
    const metricsFile = join(this.dir, 'metrics.jsonl');
    const size = existsSync(metricsFile) ? statSync(metricsFile).size : 0;
    if (size < this.offset) {
      // Rewritten (a fresh run in the same folder): start over.
      this.offset = 0;
      this.partial = '';
      this.metrics = [];
      this.config = readJson(join(this.dir, 'config.json'));
      change.reset = true;
    }
    if (size > this.offset) {
      const fd = openSync(metricsFile, 'r');
      try {
        const buffer = Buffer.alloc(size - this.offset);
        const read = readSync(fd, buffer, 0, buffer.length, this.offset);
        this.offset += read;
        const text = this.partial + buffer.subarray(0, read).toString('utf8');
        const lines = text.split('\n');
        this.partial = lines.pop() ?? '';
        for (const line of lines) {
          if (line.trim() === '') continue;
          try {
            const record = JSON.parse(line) as unknown;
            if (record !== null && typeof record === 'object' && !Array.isArray(record)) change.metrics.push(record as MetricsRecord);
          } catch {
            // a malformed line is skipped, as the report does
          }
        }
      } finally {
        closeSync(fd);
      }
      this.metrics.push(...change.metrics);
    }
    const samplesDir = join(this.dir, 'samples');
    if (existsSync(samplesDir)) {
      const known = new Set(this.samples);
      const now = readdirSync(samplesDir).filter((f) => f.endsWith('.png')).sort();
      change.samples = now.filter((f) => !known.has(f));
      if (change.samples.length > 0 || now.length !== this.samples.length) this.samples = now;
    }
    const checkpointFile = join(this.dir, 'checkpoint.safetensors');
    const stamp = existsSync(checkpointFile) ? (({ size: s, mtimeMs }) => `${s}:${mtimeMs}`)(statSync(checkpointFile)) : '';
    if (stamp !== this.checkpointStamp) {
      change.checkpoint = stamp !== '';
      this.checkpointStamp = stamp;
    }
    return change;
  }

  snapshot(): object {
    return { config: this.config, metrics: this.metrics, samples: this.samples.map((f) => `samples/${f}`), checkpoint: this.checkpointStamp !== '' };
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch {
    return null;
  }
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
}

/**
 * The path below /run/ as a file inside `root`, or null when it must be refused: `..` or empty
 * segments, backslashes, NUL, absolute paths, or a real path (symbolic links resolved) outside
 * the folder.
 */
export function resolveInside(root: string, encoded: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(encoded);
  } catch {
    return null;
  }
  if (rel === '' || rel.includes('\0') || rel.includes('\\') || isAbsolute(rel)) return null;
  if (rel.split('/').some((segment) => segment === '..' || segment === '.' || segment === '')) return null;
  try {
    const realRoot = realpathSync(root);
    const full = resolve(realRoot, rel);
    if (!full.startsWith(realRoot + sep)) return null;
    if (!existsSync(full)) return full; // a 404, not a refusal
    const real = realpathSync(full);
    return real.startsWith(realRoot + sep) ? real : null;
  } catch {
    return null; // the file went away between the checks (or cannot be read): refuse
  }
}

/** Starts the server; resolves once it listens. */
export async function startServer(options: ServeOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const appDir = options.appDir ?? defaultAppDir();
  if (!existsSync(join(appDir, 'index.html'))) throw new UsageError(`the web app is not built (${join(appDir, 'index.html')} is missing): run \`npm run build\``);
  if (options.run !== undefined && options.checkpoint !== undefined) throw new UsageError('give --run or --checkpoint, not both');
  let runDir: string | null = null;
  let checkpointFile: string | null = null;
  if (options.run !== undefined) {
    if (!existsSync(options.run) || !statSync(options.run).isDirectory()) throw new UsageError(`--run ${options.run} is not a folder`);
    runDir = realpathSync(options.run);
  }
  if (options.checkpoint !== undefined) {
    if (!existsSync(options.checkpoint) || !statSync(options.checkpoint).isFile()) throw new UsageError(`--checkpoint ${options.checkpoint} is not a file`);
    checkpointFile = realpathSync(options.checkpoint);
  }
  const watcher = runDir === null ? null : new RunWatcher(runDir);
  const clients = new Set<ServerResponse>();
  let timer: ReturnType<typeof setInterval> | null = null;

  const broadcast = (event: string, data: unknown): void => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of clients) res.write(frame);
  };
  const poll = (): void => {
    if (watcher === null) return;
    let change;
    try {
      change = watcher.refresh();
    } catch {
      return; // the folder is being rewritten or went away: try again at the next poll
    }
    if (change.reset) broadcast('snapshot', watcher.snapshot());
    else {
      if (change.metrics.length > 0) broadcast('metrics', change.metrics);
      for (const file of change.samples) broadcast('sample', { file: `samples/${file}` });
      if (change.checkpoint) broadcast('checkpoint', { file: 'checkpoint.safetensors' });
    }
  };

  const app = sirv(appDir, { dev: false, etag: true, dotfiles: false });

  let port = options.port ?? 8080;
  let hosts: Set<string> | null = null;

  const apiRun = (): object => {
    if (watcher !== null) {
      poll();
      return { mode: 'run', name: basename(watcher.dir), ...watcher.snapshot() };
    }
    if (checkpointFile !== null) return { mode: 'checkpoint', name: basename(checkpointFile), config: null, metrics: [], samples: [], checkpoint: true };
    return { mode: 'none', name: null, config: null, metrics: [], samples: [], checkpoint: false };
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const hostHeader = req.headers.host ?? '';
    if (hosts !== null && !hosts.has(hostHeader.toLowerCase())) return send(res, 403, 'forbidden: unexpected Host header\n');
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null' && origin.toLowerCase() !== `http://${hostHeader.toLowerCase()}`) return send(res, 403, 'forbidden: cross-origin request\n');
    if (origin === 'null') return send(res, 403, 'forbidden: cross-origin request\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'method not allowed\n');
    }
    const target = req.url ?? '/';
    if (!target.startsWith('/')) return send(res, 400, 'bad request\n');
    const path = target.split('?')[0]!;
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return send(res, 400, 'bad request\n');
    }
    // Nothing here ever needs '..', '\', NUL or '//'; refuse them before any routing.
    if (decoded.split('/').includes('..') || decoded.includes('\\') || decoded.includes('\0') || decoded.includes('//')) return send(res, 403, 'forbidden\n');

    if (path === '/api/run') return send(res, 200, JSON.stringify(apiRun()), 'application/json; charset=utf-8');
    if (path === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`retry: 1000\nevent: snapshot\ndata: ${JSON.stringify(apiRun())}\n\n`);
      if (req.method === 'HEAD') return void res.end();
      clients.add(res);
      timer ??= setInterval(poll, options.pollMs ?? 500);
      req.on('close', () => {
        clients.delete(res);
        if (clients.size === 0 && timer !== null) {
          clearInterval(timer);
          timer = null;
        }
      });
      return;
    }
    if (path.startsWith('/run/')) {
      const rest = path.slice('/run/'.length);
      let file: string | null;
      if (checkpointFile !== null) {
        if (rest === 'checkpoint.safetensors') file = checkpointFile;
        else return send(res, 404, 'not found\n');
      } else if (runDir !== null) {
        file = resolveInside(runDir, rest);
        if (file === null) return send(res, 403, 'forbidden\n');
      } else {
        return send(res, 404, 'no run is served\n');
      }
      const type = RUN_TYPES[extname(file).toLowerCase()];
      if (type === undefined) return send(res, 403, 'forbidden: not a run file type\n');
      if (!existsSync(file) || !statSync(file).isFile()) return send(res, 404, 'not found\n');
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-cache' });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    if (path.startsWith('/api/')) return send(res, 404, 'not found\n');
    app(req, res, () => send(res, 404, 'not found\n'));
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new UsageError(`port ${port} on ${host} is in use (try --port)`) : error);
    });
    server.listen(port, host, () => resolvePromise());
  });
  port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(host, port);
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/`,
    close: () =>
      new Promise<void>((resolvePromise) => {
        if (timer !== null) clearInterval(timer);
        for (const res of clients) res.end();
        clients.clear();
        server.closeAllConnections();
        server.close(() => resolvePromise());
      }),
  };
}

/** Opens a URL in the desktop's browser, if there is one; failures are ignored. */
function openBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(command, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => console.error(`dcgan: could not open a browser; open ${url} yourself`));
    child.unref();
  } catch {
    console.error(`dcgan: could not open a browser; open ${url} yourself`);
  }
}

interface ServeFlags {
  run?: string;
  checkpoint?: string;
  port: number;
  host: string;
  open?: boolean;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('the web app (latent explorer, training dashboard, explainer, training in the page) on a local server')
    .option('--run <dir>', 'a run folder to show, live while it trains')
    .option('--checkpoint <file>', 'a checkpoint to explore (instead of a run folder)')
    .option('--port <n>', 'port (0: any free port)', intOption('--port', 0), 8080)
    .option('--host <address>', 'address to bind (anything but loopback exposes the server to your network)', '127.0.0.1')
    .option('--open', 'open the page in a browser')
    .action(async (flags: ServeFlags) => {
      const server = await startServer({ run: flags.run, checkpoint: flags.checkpoint, port: flags.port, host: flags.host });
      console.log(`dcgan serve: ${server.url}${flags.run ? ` (run ${flags.run})` : flags.checkpoint ? ` (checkpoint ${flags.checkpoint})` : ''} — Ctrl-C stops`);
      if (flags.open) openBrowser(server.url);
      await new Promise<void>((resolvePromise) => {
        process.once('SIGINT', () => void server.close().then(resolvePromise));
        process.once('SIGTERM', () => void server.close().then(resolvePromise));
      });
    });
}
