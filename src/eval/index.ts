/** Sample-quality evaluation: local feature extractors and FID / KID / precision-recall in their feature space. */
export { symmetricEigen, symmetricSqrt, symmetricFunction, matMul, trace, type SymmetricEigen } from './linalg.js';
export { makeFeatures, innerProducts, forEachDistanceBlock, type Features } from './features.js';
export {
  gaussianStats,
  frechetDistance,
  frechetDistanceOf,
  kernelInceptionDistance,
  kthNeighbourRadii,
  precisionRecall,
  classifierScore,
  classHistogram,
  softmax,
  sampleWithoutReplacement,
  type GaussianStats,
  type KidOptions,
  type KidResult,
  type PrecisionRecall,
} from './metrics.js';
export {
  FeatureClassifier,
  FEATURE_DIM,
  CLASSIFIER_VERSION,
  crossEntropy,
  trainClassifier,
  testAccuracy,
  embedBatch,
  embedDataset,
  weightsHash,
  calibrateBatchNorm,
  readImages,
  type ClassifierShape,
  type TrainClassifierOptions,
  type TrainResult,
} from './classifier.js';
export { loadFeatureExtractor, cacheDir, CLASSIFIER_TRAINING, RANDOM_FEATURES_CAVEAT, type FeatureExtractor, type ExtractorKind, type ExtractorOptions } from './extractor.js';
export { evaluateGenerator, embedGenerated, extractorInfo, type EvalReport, type EvaluateOptions, type EvalPhase, type ExtractorInfo } from './evaluate.js';
