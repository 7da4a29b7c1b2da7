export {
  DEFAULT_TRAIN_CONFIG,
  TRAIN_SETTINGS,
  TRAIN_SETTING_KEYS,
  RESUME_FIXED_KEYS,
  TrainConfigError,
  resolveTrainConfig,
  parseSetting,
  settingFlag,
  modelConfig,
  discriminatorLr,
  configDifferences,
  type TrainConfig,
  type SettingSpec,
} from './config.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  encodeCheckpoint,
  parseCheckpoint,
  loadNetworks,
  loadSamplingGenerator,
  restoreCheckpoint,
  checkpointEntries,
  CheckpointError,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  type CheckpointState,
  type LoadedCheckpoint,
  type CheckpointConfig,
  type CheckpointLoaderState,
  type RestoreTargets,
} from './checkpoint.js';
export { GanTrainer, DivergenceError, generate, type StepMetrics, type TrainerOptions } from './trainer.js';
export { ganStep, type GanModels, type GanStepOptions, type GanStepLosses } from './step.js';
export { runTraining, writeRunReport, sampleFileName, RUN_FILES, type RunOptions, type RunResult, type TrainEvent } from './run.js';
export { WeightAverage, emaDecay } from './ema.js';
