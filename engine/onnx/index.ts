export {
  OPSET,
  IR_VERSION,
  PROTOBUF_LIMIT,
  serializeModel,
  saveModel,
  initializerBytes,
  type SaveOptions,
} from './model';
export { ProtoWriter } from './protobuf';
