export * from './dtype';
export * from './graph';
export * from './shape';
