export { loadTorchStateDict, saveTorchStateDict, type TorchTensor } from './state-dict.js';
export { TorchFormatError } from './errors.js';
export { readZip, writeZip, looksLikeZip, type ZipEntry } from './zip.js';
export { unpickle, PickleWriter, PyTuple, PyDict, PyGlobal, PyObject, type PyValue, type PyKey, type UnpickleHooks } from './pickle.js';
export { crc32 } from './crc32.js';
