export { encodeSafetensors, decodeSafetensors, safetensorsChunks, SafetensorsError, type SafetensorsDtype, type SafetensorsTensor, type SafetensorsFile, type TensorToWrite, type WritableDtype } from './safetensors.js';
export { writeFileAtomic, removeStaleTemporaries, type AtomicWriteOptions } from './atomic.js';
export { makeGrid, encodePng, saveImageGrid, saveImage, type ImageBatch, type GridOptions, type Raster } from './png.js';
export { lossPlotSpec, renderLossPlotSvg, svgToPng, type LossPoint, type LossPlotOptions } from './plot.js';
export { renderReport, writeReport, type ReportInput, type ReportGrid } from './report.js';
export { exportOnnx, OnnxExportError, ONNX_IR_VERSION, ONNX_OPSET, type OnnxExportOptions } from './onnx/index.js';
export { loadTorchStateDict, saveTorchStateDict, TorchFormatError, type TorchTensor } from './torch/index.js';
export { encodeWeights, saveWeights, loadWeights, weightsFromSafetensors, WeightsError, WEIGHTS_FORMAT, WEIGHTS_VERSION, type Weights, type WeightsDict } from './weights.js';
export { convolutionChoicesFile, parseConvolutionChoicesFile, machineFingerprint } from './convolution-choices.js';
