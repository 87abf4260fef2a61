export * from './core';
export * from './elementwise';
export * from './linalg';
export * from './shape';
export * from './indexing';
export * from './reduce';
export * from './activation';
export * from './control';
