/**
 * Method forms of the common ops (x.add(y), x.relu(), …), installed on Tensor here so that
 * the tensor layer stays free of op code, as tfjs chains its ops.
 */
import { Tensor } from '../tensor/tensor.js';
import type { Shape } from '../tensor/shape.js';
import { abs, exp, leakyRelu, log, relu, sigmoid, sqrt, square, tanh } from './activation.js';
import { add, div, mul, neg, pow, sub } from './arithmetic.js';
import { matmul } from './matmul.js';
import { mean, sum, type ReduceOptions } from './reduce.js';
import { clone, detach, flatten, permute, reshape, transpose } from './reshape.js';

declare module '../tensor/tensor.js' {
  interface Tensor {
    add(other: Tensor | number): Tensor;
    sub(other: Tensor | number): Tensor;
    mul(other: Tensor | number): Tensor;
    div(other: Tensor | number): Tensor;
    neg(): Tensor;
    pow(exponent: number): Tensor;
    matmul(other: Tensor): Tensor;
    reshape(shape: Shape): Tensor;
    view(shape: Shape): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    permute(perm: readonly number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    sum(axes?: number | readonly number[], options?: ReduceOptions): Tensor;
    mean(axes?: number | readonly number[], options?: ReduceOptions): Tensor;
    relu(): Tensor;
    leakyRelu(negativeSlope?: number): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    abs(): Tensor;
    sqrt(): Tensor;
    square(): Tensor;
    detach(): Tensor;
    clone(): Tensor;
  }
}

const proto = Tensor.prototype;
proto.add = function (this: Tensor, other) { return add(this, other); };
proto.sub = function (this: Tensor, other) { return sub(this, other); };
proto.mul = function (this: Tensor, other) { return mul(this, other); };
proto.div = function (this: Tensor, other) { return div(this, other); };
proto.neg = function (this: Tensor) { return neg(this); };
proto.pow = function (this: Tensor, exponent) { return pow(this, exponent); };
proto.matmul = function (this: Tensor, other) { return matmul(this, other); };
proto.reshape = function (this: Tensor, shape) { return reshape(this, shape); };
proto.view = function (this: Tensor, shape) { return reshape(this, shape); };
proto.flatten = function (this: Tensor, startDim, endDim) { return flatten(this, startDim, endDim); };
proto.permute = function (this: Tensor, perm) { return permute(this, perm); };
proto.transpose = function (this: Tensor, dim0, dim1) { return transpose(this, dim0, dim1); };
proto.sum = function (this: Tensor, axes, options) { return sum(this, axes, options); };
proto.mean = function (this: Tensor, axes, options) { return mean(this, axes, options); };
proto.relu = function (this: Tensor) { return relu(this); };
proto.leakyRelu = function (this: Tensor, slope) { return leakyRelu(this, slope); };
proto.tanh = function (this: Tensor) { return tanh(this); };
proto.sigmoid = function (this: Tensor) { return sigmoid(this); };
proto.exp = function (this: Tensor) { return exp(this); };
proto.log = function (this: Tensor) { return log(this); };
proto.abs = function (this: Tensor) { return abs(this); };
proto.sqrt = function (this: Tensor) { return sqrt(this); };
proto.square = function (this: Tensor) { return square(this); };
proto.detach = function (this: Tensor) { return detach(this); };
proto.clone = function (this: Tensor) { return clone(this); };
