/**
 * `dcgan export --format onnx`: a checkpoint's generator (its average where the run kept one)
 * or, on request, its discriminator as an ONNX file. The command itself (flags, --format
 * pytorch) lives in export.ts.
 */
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { exportOnnx, OnnxExportError, ONNX_IR_VERSION, ONNX_OPSET } from '../io/onnx/index.js';
import { DcganDiscriminator, DcganGenerator } from '../models/dcgan.js';
import { UsageError } from './errors.js';
import { openModelSource } from './model-source.js';

export interface OnnxExportCommandOptions {
  /** Export the discriminator instead of the generator. */
  discriminator?: boolean;
  /** The torch-fidelity variant of the generator: z [N, nz] in, uint8 RGB [N, 3, H, W] out. */
  torchFidelity?: boolean;
  /** producer_version in the file (the CLI passes the package version). */
  producerVersion?: string;
  /** Export G's trained weights even where the checkpoint keeps a generator average. */
  rawWeights?: boolean;
}

/** What writeOnnxExport wrote, for the CLI's message or --json. */
export interface OnnxExportSummary {
  out: string;
  checkpoint: string;
  network: 'generator' | 'discriminator';
  /** Which weights: the generator average, the trained generator, or the discriminator. */
  weights: 'average' | 'raw' | 'discriminator';
  variant: 'plain' | 'torch-fidelity';
  bytes: number;
  irVersion: number;
  opset: number;
  /** The graph's input and output, e.g. `z float32 [N, 100, 1, 1]`. */
  input: string;
  output: string;
}

function checkOut(out: string): void {
  if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`--out ${out} is a folder; give a .onnx file name`);
  if (!out.toLowerCase().endsWith('.onnx')) throw new UsageError(`--out must be a .onnx file, got '${out}'`);
  const parent = dirname(out);
  if (!existsSync(parent) || !statSync(parent).isDirectory()) throw new UsageError(`--out ${out}: the folder ${parent} does not exist`);
}

/**
 * Reads a checkpoint (the .safetensors file or its run folder), builds the network from its
 * config, loads the weights and BatchNorm statistics, and writes the ONNX file atomically.
 * Every user error is a UsageError with a one-line message.
 */
export function writeOnnxExport(checkpointPathOrDir: string, out: string, options: OnnxExportCommandOptions = {}): OnnxExportSummary {
  const discriminator = options.discriminator === true;
  const fidelity = options.torchFidelity === true;
  if (discriminator && fidelity) throw new UsageError('--torch-fidelity exports the generator; it cannot be combined with --discriminator');
  checkOut(out);
  const source = openModelSource(checkpointPathOrDir);
  const config = source.config;
  const net = discriminator ? new DcganDiscriminator(config) : new DcganGenerator(config);
  // The generator average where the run kept one: what samples best, so what a deployment wants.
  const average = !discriminator && source.netGEma !== null && options.rawWeights !== true;
  const state = discriminator ? source.netD : average ? source.netGEma : source.netG;
  if (state === null) throw new UsageError(`${checkpointPathOrDir} holds no discriminator to export`);
  try {
    net.loadStateDict(state);
  } catch (error) {
    throw new UsageError(`${checkpointPathOrDir}: its ${discriminator ? 'discriminator' : 'generator'} does not fit the model its config describes (${error instanceof Error ? error.message : String(error)})`);
  }
  let bytes: Uint8Array;
  try {
    bytes = exportOnnx(net, { torchFidelity: fidelity, ...(options.producerVersion !== undefined ? { producerVersion: options.producerVersion } : {}) });
  } catch (error) {
    if (error instanceof OnnxExportError) throw new UsageError(error.message);
    throw error;
  }
  try {
    writeFileAtomic(out, bytes);
  } catch (error) {
    throw new UsageError(`cannot write ${out}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { nz, channels, imageSize } = config;
  const image = `[N, ${channels}, ${imageSize}, ${imageSize}]`;
  return {
    out,
    checkpoint: checkpointPathOrDir,
    weights: discriminator ? 'discriminator' : average ? 'average' : 'raw',
    network: discriminator ? 'discriminator' : 'generator',
    variant: fidelity ? 'torch-fidelity' : 'plain',
    bytes: bytes.length,
    irVersion: ONNX_IR_VERSION,
    opset: ONNX_OPSET,
    input: discriminator ? `images float32 ${image}` : fidelity ? `z float32 [N, ${nz}]` : `z float32 [N, ${nz}, 1, 1]`,
    output: discriminator ? 'logits float32 [N]' : fidelity ? `images uint8 [N, 3, ${imageSize}, ${imageSize}]` : `images float32 ${image}`,
  };
}

/** The flags of `dcgan export` that the ONNX format reads. */
export interface OnnxExportFlags extends OnnxExportCommandOptions {
  checkpoint: string;
  out: string;
  json?: boolean;
}

/**
 * The action of `dcgan export --format onnx`: writes the file and prints one line (or, with
 * --json, the summary as one JSON object). Returns the summary.
 */
export function exportOnnxCommandAction(flags: OnnxExportFlags, print: (line: string) => void = console.log): OnnxExportSummary {
  const summary = writeOnnxExport(flags.checkpoint, flags.out, flags);
  const kb = (summary.bytes / 1024).toFixed(1);
  print(
    flags.json === true
      ? JSON.stringify(summary)
      : `wrote ${summary.out} (${kb} KiB): the ${summary.network}${summary.variant === 'torch-fidelity' ? ' for torch-fidelity' : ''}, ${summary.input} → ${summary.output}, ONNX IR ${summary.irVersion}, opset ${summary.opset}`,
  );
  return summary;
}

/** Adds the ONNX-only flags of `dcgan export` to a command (the lead's export.ts wires the rest). */
export function onnxExportOptions(command: Command): Command {
  return command
    .option('--discriminator', 'ONNX: export the discriminator (images → logits) instead of the generator')
    .option('--torch-fidelity', "ONNX: the generator for torch-fidelity: z [N, nz] in, uint8 RGB [N, 3, H, W] out");
}
