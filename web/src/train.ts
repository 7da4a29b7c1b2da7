/** Training in the page: not built yet. */
import { h } from './dom.js';

export interface TrainerApi {
  state: { ready: boolean };
}

export function createTrainer(root: HTMLElement): TrainerApi {
  root.append(h('h2', { text: 'Train in the page' }), h('p', { text: 'Coming soon.' }));
  return { state: { ready: true } };
}
