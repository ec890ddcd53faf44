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
export { PolicyRuntime, POLICY_STATUS_FILE, POLICY_CONTROL_FILE, SMOKE_INPUT } from './runtime.js';
export type {
  PolicyStatus,
  PolicyEvents,
  RuntimeOptions,
  PolicyHistoryEvent,
  PolicyErrorInfo,
  ActivationReason,
  ControlRequest,
} from './runtime.js';
export { policyStatusFile, runtimeOptionsFromConfig } from './config.js';
export { readDecision, DECISION_SCHEMA } from './decision.js';
export type { Decision, Reason, ApprovalObligation } from './decision.js';
export {
  buildBundleFile,
  compileDirectory,
  loadBundleSource,
  readBundleFile,
  bundleFromFiles,
  contentRevision,
  loadTarball,
  loadDirectoryBundle,
  compileSnapshot,
  filesDigest,
  snapshotRevision,
  loadedBundleFromFiles,
  snapshotDirectory,
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
export { untar, readBundleBytes, readBundleResponse, DEFAULT_BUNDLE_LIMITS } from './archive.js';
export type { BundleLimits } from './archive.js';
export { composeBundles, compositeRevision } from './compose.js';
export type { ComposedBundle } from './compose.js';
export { createSource, DirectorySource, FileSource, HttpSource, LONG_POLL_CONTENT_TYPE, backoff } from './sources.js';
export type { BundleSource, BundleSpec, PollingConfig, SourceListener, SourceState, SourceOptions } from './sources.js';
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
export { findOpa, runOpa, PACKAGE_ROOT } from './toolchain.js';
export { prebuiltShippedBundle, SHIPPED_POLICY_DIR, SHIPPED_BUNDLE_FILE, SHIPPED_BUNDLE_INFO } from './shipped.js';
export type { ShippedBundleInfo } from './shipped.js';
export { runPolicyTests, formatCoverage, isTestFile, DEFAULT_POLICY_DIRS, DEFAULT_COVERAGE_MIN } from './testing.js';
export type { PolicyTestOptions, PolicyTestResult, PolicyCoverage, FileCoverage } from './testing.js';
export { lintPolicies, formatLintProblem } from './lint.js';
export type { LintOptions, LintProblem, LintReport, LintRule } from './lint.js';
export { SDK_BUILTINS, HOST_BUILTINS, createHostBuiltins } from './builtins.js';
