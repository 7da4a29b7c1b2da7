/**
 * The app's entry: four pages behind tabs (Explorer, Dashboard, Explainer, Train in the page),
 * chosen by the URL's hash, and `window.__dcgan` with each page's state for tests and the curious.
 */
import { createDashboard, type DashboardState } from './dashboard.js';
import { createExplainer, type ExplainerApi } from './explainer.js';
import { createExplorer, type ExplorerApi } from './explorer.js';
import { createTrainer, type TrainerApi } from './train.js';

const PAGES = ['explorer', 'dashboard', 'explainer', 'train'] as const;
type Page = (typeof PAGES)[number];

interface AppHandle {
  page: Page;
  crossOriginIsolated: boolean;
  explorer?: ExplorerApi['state'];
  explorerApi?: ExplorerApi;
  dashboard?: DashboardState;
  explainer?: ExplainerApi['state'];
  explainerApi?: ExplainerApi;
  train?: TrainerApi["state"];
  trainApi?: TrainerApi;
}

const app: AppHandle = { page: 'explorer', crossOriginIsolated: globalThis.crossOriginIsolated === true };
(window as unknown as { __dcgan: AppHandle }).__dcgan = app;

const tabs = [...document.querySelectorAll<HTMLButtonElement>('[role="tab"]')];
const started = new Set<Page>();

interface Snapshot {
  mode: 'run' | 'checkpoint' | 'none';
  name: string | null;
  config: Record<string, unknown> | null;
  metrics: never[];
  samples: string[];
  checkpoint: boolean;
}

const served: Promise<Snapshot> = fetch('api/run')
  .then((r) => (r.ok ? (r.json() as Promise<Snapshot>) : Promise.reject(new Error(`HTTP ${r.status}`))))
  .catch(() => ({ mode: 'none', name: null, config: null, metrics: [], samples: [], checkpoint: false }));

async function start(page: Page): Promise<void> {
  if (started.has(page)) return;
  started.add(page);
  const root = document.getElementById(page)!;
  const snapshot = await served;
  if (snapshot.name !== null) document.getElementById('run-name')!.textContent = `· ${snapshot.name}`;
  if (page === 'explorer') {
    app.explorerApi = createExplorer(root, { checkpoint: snapshot.checkpoint, name: snapshot.name, live: snapshot.mode === 'run' });
    app.explorer = app.explorerApi.state;
  } else if (page === 'dashboard') {
    app.dashboard = createDashboard(root, snapshot, () => undefined).state;
  } else if (page === 'explainer') {
    app.explainerApi = createExplainer(root);
    app.explainer = app.explainerApi.state;
  } else {
    app.trainApi = createTrainer(root);
    app.train = app.trainApi.state;
  }
}

function show(page: Page, focus = false): void {
  app.page = page;
  for (const tab of tabs) {
    const selected = tab.dataset['page'] === page;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    if (selected && focus) tab.focus();
  }
  for (const p of PAGES) document.getElementById(p)!.hidden = p !== page;
  void start(page);
}

function pageFromHash(): Page {
  const name = location.hash.replace(/^#/, '');
  return (PAGES as readonly string[]).includes(name) ? (name as Page) : 'explorer';
}

tabs.forEach((tab, i) => {
  tab.addEventListener('click', () => {
    location.hash = tab.dataset['page']!;
  });
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern).
  tab.addEventListener('keydown', (event) => {
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    if (step === 0) return;
    event.preventDefault();
    const next = tabs[(i + step + tabs.length) % tabs.length]!;
    location.hash = next.dataset['page']!;
    show(next.dataset['page'] as Page, true);
  });
});
window.addEventListener('hashchange', () => show(pageFromHash()));
show(pageFromHash());
