export { exportOnnx, onnxModelOf, OnnxExportError, ONNX_IR_VERSION, ONNX_OPSET, type OnnxExportOptions } from './export.js';
export { encodeOnnxModel, DataType as OnnxDataType, type OnnxModel, type OnnxGraph, type OnnxNode, type OnnxTensor, type OnnxValueInfo, type OnnxAttribute } from './model.js';
export { ProtoWriter } from './protobuf.js';
