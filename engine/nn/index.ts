export * from './blocks';
export * from './tiny-lm';
