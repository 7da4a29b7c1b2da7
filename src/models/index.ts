export {
  DcganGenerator,
  DcganDiscriminator,
  DcganConfigError,
  DEFAULT_DCGAN_CONFIG,
  DCGAN_CONFIG_KEYS,
  pickDcganConfig,
  dcganGenerator,
  dcganDiscriminator,
  resolveDcganConfig,
  initDcganWeights,
  hiddenBlocks,
  type DcganConfig,
  type DcganBuildOptions,
  type Projection,
} from './dcgan.js';
export { lerp, slerp, latentWalks } from './latent.js';
export { inferDcganConfig, generatorShapes, discriminatorShapes, DcganInferenceError, type ShapeDict, type InferSources } from './infer.js';
