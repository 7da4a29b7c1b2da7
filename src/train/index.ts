export { DEFAULT_TRAIN_CONFIG, RESUME_FIXED_KEYS, TrainConfigError, resolveTrainConfig, modelConfig, configDifferences, type TrainConfig } from './config.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  loadNetworks,
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
export { runTraining, writeRunReport, sampleFileName, RUN_FILES, type RunOptions, type RunResult, type TrainEvent } from './run.js';
