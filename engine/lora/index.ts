export * from './lora';
