export { PolicyEngine, failClosed } from './engine.js';
export type {
  CompiledBundle,
  EngineOptions,
  EntrypointFailureCode,
  EntrypointResult,
  Evaluation,
  PolicyFailureCode,
} from './engine.js';
export { WorkerEngine } from './worker-engine.js';
export type { WorkerEngineOptions } from './worker-engine.js';
export { DEFAULT_EVALUATION_BUDGET } from './budget.js';
export type { EvaluationBudget } from './budget.js';
export { PolicyRuntime, SMOKE_INPUT } from './runtime.js';
export type {
  PolicyStatus,
  PolicyStatusPort,
  PolicyEvents,
  RuntimeOptions,
  PolicyHistoryEvent,
  PolicyErrorInfo,
  ActivationReason,
  ControlRequest,
} from './runtime.js';
export type { BundleSource, BundleSpec, PollingConfig, SourceListener, SourceState } from './source.js';
export { readDecision, DECISION_SCHEMA } from './decision.js';
export type { Decision, Reason, ApprovalObligation } from './decision.js';
export {
  bundleFromFiles,
  compiledBundleOf,
  loadTarball,
  filesDigest,
  snapshotRevision,
  loadedBundleFromFiles,
  isIgnoredPolicyPath,
  rootsOverlap,
  rootsContain,
  regoLocation,
  OPTIONAL_ENTRYPOINTS,
  MASK_ENTRYPOINT,
  DEFAULT_ENTRYPOINT,
  definedOptionalEntrypoints,
} from './bundle.js';
export type { LoadedBundle, RegoLocation } from './bundle.js';
export { untar, bundleTooLarge, formatBytes, UNLIMITED, DEFAULT_BUNDLE_LIMITS } from './archive.js';
export type { BundleLimits } from './archive.js';
export { composeBundles, compositeRevision } from './compose.js';
export type { ComposedBundle } from './compose.js';
export { verifyBundleSignatures, globToRegExp, SIGNATURES_FILE } from './signing.js';
export type { VerificationConfig, VerificationKey, VerifiedSignature } from './signing.js';
export {
  fileDigest,
  isStructuredDoc,
  encodeString,
  parseJsonPreservingNumbers,
  JsonNumber,
  SIGNATURE_HASHES,
} from './canonical-json.js';
export { SDK_BUILTINS, HOST_BUILTINS, createHostBuiltins } from './builtins.js';
