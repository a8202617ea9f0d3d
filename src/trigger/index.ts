/** The HTTP receiver for bucket event notifications; see server.ts. */
export { TriggerError, isTriggerError, type TriggerErrorCode } from './errors.js';
export {
  parseObjectEvents, S3EventNotification, S3EventRecord, S3TestEvent, SnsEnvelope, EventBridgeS3Event,
  type ObjectCreatedEvent, type ParsedEvents,
} from './events.js';
export { verifyRequest, assertAuthConfigured, signBody, SIGNATURE_HEADER, type AuthConfig, type AuthScheme } from './auth.js';
export { makeFilter, type FilterOptions, type FilterResult, type EventFilter } from './filter.js';
export { sourceVersionOf } from './version.js';
export {
  TriggerConfig, BucketName, type TriggerConfigInput, parseTriggerConfig, triggerConfigFromEnv, filterFromConfig, splitList,
} from './config.js';
export {
  createTriggerServer, DEFAULT_MAX_BODY_BYTES,
  type StartWorkflow, type HandedOver, type TriggerServerOptions, type TriggerResult, type SignalledRef,
} from './server.js';
