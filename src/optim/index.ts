export { Optimizer, type OptimizerStateDict, type ParamState } from './optimizer.js';
export { Adam, type AdamOptions } from './adam.js';
export { SGD, type SgdOptions } from './sgd.js';
