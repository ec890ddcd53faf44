export { PolicyEngine, failClosed } from './engine.js';
export type { CompiledBundle, Evaluation, PolicyFailureCode } from './engine.js';
export { PolicyRuntime } from './runtime.js';
export type { PolicyStatus, PolicyEvents } from './runtime.js';
export { readDecision, DECISION_SCHEMA } from './decision.js';
export type { Decision, Reason, ApprovalObligation } from './decision.js';
export { buildBundleFile, compileDirectory, loadBundleSource, readBundleFile, bundleFromFiles, contentRevision, untar } from './bundle.js';
export { findOpa, runOpa, PACKAGE_ROOT } from './toolchain.js';
export { SDK_BUILTINS, HOST_BUILTINS, createHostBuiltins } from './builtins.js';
