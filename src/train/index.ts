export { DEFAULT_TRAIN_CONFIG, RESUME_FIXED_KEYS, TrainConfigError, resolveTrainConfig, modelConfig, type TrainConfig } from './config.js';
export { GanTrainer, DivergenceError, generate, type StepMetrics, type TrainerOptions } from './trainer.js';
export { runTraining, writeRunReport, sampleFileName, RUN_FILES, type RunOptions, type RunResult, type TrainEvent } from './run.js';
