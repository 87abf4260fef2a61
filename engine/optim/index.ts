export { adamwUpdate, adamwReference, type AdamWConfig, type AdamWScalars, type AdamWState } from './adamw';
export { sgdUpdate } from './sgd';
export { clipGlobalNorm } from './clip';
