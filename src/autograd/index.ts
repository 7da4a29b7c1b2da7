export { backward, type BackwardOptions } from './backward.js';
export { noGrad, enableGrad, isGradEnabled } from './mode.js';
export { record, needsGrad } from './record.js';
