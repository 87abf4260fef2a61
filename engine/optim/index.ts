export { adamwUpdate, adamwReference, type AdamWConfig, type AdamWScalars, type AdamWState } from './adamw';
export { sgdUpdate } from './sgd';
export { clipGlobalNorm, clipScale, globalNorm } from './clip';
