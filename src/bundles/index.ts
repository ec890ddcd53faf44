export { openPolicyRuntime, policyRuntimeForSource } from './open.js';
export type { RuntimeSpec } from './open.js';
export { policyStatusFile, runtimeSpecFromConfig } from './config.js';
export { statusFilePort, POLICY_STATUS_FILE, POLICY_CONTROL_FILE } from './status-file.js';
export {
  buildBundleFile,
  compileDirectory,
  compileSnapshot,
  contentRevision,
  loadBundleSource,
  loadDirectoryBundle,
  readBundleFile,
  snapshotDirectory,
} from './build.js';
export { readBundleBytes, readBundleResponse } from './read.js';
export { createSource, DirectorySource, FileSource, HttpSource, LONG_POLL_CONTENT_TYPE, backoff } from './sources.js';
export type { SourceOptions } from './sources.js';
export { findOpa, runOpa, PACKAGE_ROOT } from './toolchain.js';
export {
  describesBuild,
  prebuiltShippedBundle,
  SHIPPED_POLICY_DIR,
  SHIPPED_BUNDLE_FILE,
  SHIPPED_BUNDLE_INFO,
} from './shipped.js';
export type { ShippedBundleInfo } from './shipped.js';
export { runPolicyTests, formatCoverage, isTestFile, DEFAULT_POLICY_DIRS, DEFAULT_COVERAGE_MIN } from './testing.js';
export type { PolicyTestOptions, PolicyTestResult, PolicyCoverage, FileCoverage } from './testing.js';
export { lintPolicies, formatLintProblem } from './lint.js';
export type { LintOptions, LintProblem, LintReport, LintRule } from './lint.js';
