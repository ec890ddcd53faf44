// The one catalogue of the codes Warden reports, in the style of the sdk's `ErrorCode` and
// `SdkErrorCode` enums: one documented member per case. docs/errors.md lists the same codes, and
// test/common/error-codes.test.ts fails when the two drift apart.

/**
 * The stable snake_case `code` of every {@link WardenError} (and of the admin API's error bodies):
 * fit for a metric label, never reworded. Each member says when it is raised and what to do.
 *
 * @example
 * ```ts
 * if (err instanceof WardenError && err.code === WardenErrorCode.ConfigNotFound) process.exitCode = 2;
 * ```
 */
export const WardenErrorCode = {
  // --- config: warden.yaml -------------------------------------------------------------------
  /** The config file does not exist: pass `--config` with the path of your warden.yaml. */
  ConfigNotFound: 'config_not_found',
  /** The config file exists but cannot be read: check its permissions. */
  ConfigUnreadable: 'config_unreadable',
  /** The config file is not valid YAML or JSON: correct the syntax at the position the message names. */
  ConfigSyntax: 'config_syntax',
  /** A config key is missing, ill-typed or contradicts another: fix the key path the message names. */
  ConfigInvalid: 'config_invalid',
  /** The config names `${VAR}` and VAR is not set: export it, or write `${VAR:-default}`. */
  ConfigEnvMissing: 'config_env_missing',
  /** HTTP on a non-loopback address with `auth: none`: bind 127.0.0.1, or set `auth` to bearer or jwt. */
  AuthRequired: 'auth_required',

  // --- warden init: the MCP client's config --------------------------------------------------
  /** No MCP client config was found, or `--from` names none: pass `--from` with the client's file. */
  ClientConfigNotFound: 'client_config_not_found',
  /** The client config exists but cannot be read: check its permissions, or pass another `--from`. */
  ClientConfigUnreadable: 'client_config_unreadable',
  /** Several client configs were found: pick one with `--from`. */
  ClientConfigAmbiguous: 'client_config_ambiguous',
  /** The client config is not valid JSON: correct it there (the client cannot read it either). */
  ClientConfigSyntax: 'client_config_syntax',
  /** The client config has no `mcpServers`/`servers` object of servers: correct its shape. */
  ClientConfigShape: 'client_config_shape',
  /** The client config lists no server Warden can front: add the servers first, or pass another `--from`. */
  ClientConfigNoServers: 'client_config_no_servers',
  /** `warden init` would overwrite a different file: pass `--force` (keeps a .bak) or `--out`. */
  InitOutputExists: 'init_output_exists',

  // --- policy: bundles, loading, activation ----------------------------------------------------
  /** A policy directory, bundle file or source does not exist: correct `policy.bundle` or `--bundle`. */
  PolicySourceMissing: 'policy_source_missing',
  /** A bundle is malformed (manifest, data files, no policy.wasm): rebuild it with `warden policy build`. */
  PolicyBundleInvalid: 'policy_bundle_invalid',
  /** A bundle is over `policy.limits`: raise the limit if the bundle is genuine, or shrink the bundle. */
  PolicyBundleTooLarge: 'policy_bundle_too_large',
  /** `opa build` rejected the Rego: correct the file and line the message shows. */
  PolicyCompileFailed: 'policy_compile_failed',
  /** The policy.wasm module cannot be instantiated: rebuild it with `warden policy build`. */
  PolicyWasmInvalid: 'policy_wasm_invalid',
  /** The bundle lacks the configured entrypoint: define it in Rego and build with `-e`, or set `policy.entrypoint`. */
  PolicyEntrypointMissing: 'policy_entrypoint_missing',
  /** The policy calls a builtin Warden does not supply to Wasm: rewrite the rule (docs/policies.md, Builtins). */
  PolicyBuiltinMissing: 'policy_builtin_missing',
  /** The bundle's data cannot be loaded into Wasm memory: raise `policy.evaluation.maxMemoryMb` or ship less. */
  PolicyDataInvalid: 'policy_data_invalid',
  /** Two bundles claim overlapping manifest roots: give each bundle its own roots. */
  PolicyRootsOverlap: 'policy_roots_overlap',
  /** A bundle's signature does not verify: re-sign it with the key `policy.verification` expects. */
  PolicySignatureInvalid: 'policy_signature_invalid',
  /** `policy.verification` is set and the bundle is unsigned: sign it, or remove `policy.verification`. */
  PolicySignatureMissing: 'policy_signature_missing',
  /** A bundle service could not be reached or answered without a bundle: start it or correct the URL. */
  PolicyDownloadFailed: 'policy_download_failed',
  /** A bundle failed to load for a reason without its own code: read the message, fix the bundle. */
  PolicyLoadFailed: 'policy_load_failed',
  /** A bundle did not load into a policy worker within 60 s: shrink its data, or check the machine's load. */
  PolicyLoadTimeout: 'policy_load_timeout',
  /** The policy worker thread died while loading a bundle: read the message (often out of memory). */
  PolicyWorkerFailed: 'policy_worker_failed',
  /** The built policy worker script is missing: run `npm run build` in the package. */
  PolicyWorkerMissing: 'policy_worker_missing',
  /** A new revision failed its smoke evaluation and was refused: the previous one stays; fix the policy. */
  PolicySmokeFailed: 'policy_smoke_failed',
  /** Watching a policy directory failed: Warden polls it instead; nothing to do unless it repeats. */
  PolicyWatchFailed: 'policy_watch_failed',
  /** A rollback was asked with no earlier revision kept: nothing to go back to. */
  PolicyRollbackUnavailable: 'policy_rollback_unavailable',
  /** The earlier revision could not be started again: it stays kept; read the message and retry. */
  PolicyRollbackFailed: 'policy_rollback_failed',
  /** A policy reload through the admin API failed: the active revision stays; read the message. */
  PolicyReloadFailed: 'policy_reload_failed',

  // --- warden policy / replay: the CLI ---------------------------------------------------------
  /** A policy root given to `warden policy test` or `lint` does not exist: pass the right directories. */
  PolicyDirMissing: 'policy_dir_missing',
  /** `--coverage-min` is not a percentage: pass a number from 0 to 100. */
  PolicyCoverageMinInvalid: 'policy_coverage_min_invalid',
  /** `warden policy` cannot tell which Warden is meant: pass `--config` or `--status-file`. */
  PolicyStatusUnknown: 'policy_status_unknown',
  /** No Warden with this data directory has started (no status file): start it, or point at the right one. */
  PolicyStatusMissing: 'policy_status_missing',
  /** The Warden that wrote the status file is not running: start it, or point at a running one. */
  PolicyNotRunning: 'policy_not_running',
  /** `warden replay` was given bad flags: see `warden replay --help`. */
  ReplayUsage: 'replay_usage',
  /** The policy given to replay answers `mcp/history/reads` with something that is not a list of reads: fix the rule. */
  ReplayPolicyInvalid: 'replay_policy_invalid',

  // --- toolchain -------------------------------------------------------------------------------
  /** The opa CLI was not found (or `WARDEN_OPA` is not executable): install opa v1.x or set `WARDEN_OPA`. */
  OpaNotFound: 'opa_not_found',
  /** The opa CLI was found but could not be run: check that the binary fits this platform. */
  OpaFailedToStart: 'opa_failed_to_start',

  // --- downstream servers ----------------------------------------------------------------------
  /** A downstream server could not be started or initialised: check `mcpServers.<name>`, run it by hand. */
  DownstreamStartFailed: 'downstream_start_failed',
  /** A call reached a downstream server that is not connected: it exited or failed to start; see its logs. */
  DownstreamUnavailable: 'downstream_unavailable',
  /** A call reached a downstream server that is shutting down with its session or Warden: open a new session. */
  DownstreamClosed: 'downstream_closed',
  /** Two downstream servers offer the same tool name: set a `prefix` on one of them. */
  ToolNameClash: 'tool_name_clash',
  /** `warden tools accept` (or the admin API) named a tool the trail has no pin of: check `warden tools list`. */
  ToolNotPinned: 'tool_not_pinned',
  /** A 2026-07-28 server kept asking a handshake-era client for input past Warden's round limit: check the server. */
  DownstreamInputRoundsExceeded: 'downstream_input_rounds_exceeded',

  // --- audit trail -----------------------------------------------------------------------------
  /** The audit store URL is empty or of an unknown kind: use `sqlite:PATH` or `postgres://…`. */
  AuditStoreUrlInvalid: 'audit_store_url_invalid',
  /** An audit command was given no store: pass `--store URL` or `--config FILE`. */
  AuditStoreMissing: 'audit_store_missing',
  /** An audit store option (checkpoint interval, synchronous mode) is out of range: correct it. */
  AuditStoreOptionsInvalid: 'audit_store_options_invalid',
  /** One chain per replica (`audit.chain: instance`) on a store that holds one chain: use PostgreSQL, or `shared`. */
  AuditChainUnsupported: 'audit_chain_unsupported',
  /** The audit store cannot be opened, written or is closed: check the database, its driver and access. */
  AuditStoreUnavailable: 'audit_store_unavailable',
  /** A write reached a store opened read-only: open it writable (a command that changes the trail). */
  AuditStoreReadOnly: 'audit_store_read_only',
  /** The store's chain state row is missing: the store was edited outside Warden; run `warden audit verify`. */
  AuditStoreCorrupt: 'audit_store_corrupt',
  /** A stored record's data cannot be read back: it was edited outside Warden; run `warden audit verify`. */
  AuditRecordCorrupt: 'audit_record_corrupt',
  /** An event cannot be recorded (not JSON, bad time or shape): a bug in its producer; report it. */
  AuditEventInvalid: 'audit_event_invalid',
  /** A redaction rule is invalid (a pointer not starting with `/`, an empty key): correct `audit.redact`. */
  AuditRedactInvalid: 'audit_redact_invalid',
  /** A checkpoint signing or verification key is not Ed25519 PEM: give the right key. */
  AuditSigningKeyInvalid: 'audit_signing_key_invalid',
  /** The chain is broken where records were to be archived: archiving is refused; run `warden audit verify`. */
  AuditChainInvalid: 'audit_chain_invalid',
  /** An archive file or archive option is invalid: give one of `--older-than` or `--before-seq`, a real archive. */
  AuditArchiveInvalid: 'audit_archive_invalid',
  /** The archive file to write already exists: move it away or archive to another directory. */
  AuditArchiveExists: 'audit_archive_exists',
  /** Another archiver moved the chain base meanwhile: nothing was removed; run the archive again. */
  AuditArchiveConflict: 'audit_archive_conflict',
  /** `audit.retention` is out of range: give `maxAgeDays` as a positive number. */
  AuditRetentionInvalid: 'audit_retention_invalid',
  /** A time argument is neither ISO 8601 nor an age such as `24h`: correct it. */
  AuditTimeInvalid: 'audit_time_invalid',
  /** Verification could not read the trail or archive (not a broken chain): check the store and retry. */
  AuditVerifyFailed: 'audit_verify_failed',
  /** No audit records for the session asked for: check the session id and the time range. */
  AuditSessionUnknown: 'audit_session_unknown',

  // --- reports ---------------------------------------------------------------------------------
  /** A compliance report's range or bucket is invalid (from after to, unknown bucket, too many): correct it. */
  ComplianceRangeInvalid: 'compliance_range_invalid',

  // --- approvals -------------------------------------------------------------------------------
  /** No pending approval has this id: it was answered, timed out or cancelled; list the pending ones. */
  ApprovalNotFound: 'approval_not_found',
  /** The approver may not answer this approval (role missing, or their own call): ask one who may. */
  ApprovalForbidden: 'approval_forbidden',

  // --- admin API (docs/admin-api.md) -----------------------------------------------------------
  /** A query parameter or the body is invalid: the description names it; correct the request. */
  BadRequest: 'bad_request',
  /** The caller lacks the role `admin` for this endpoint: use an admin token, or the approvals endpoints. */
  Forbidden: 'forbidden',
  /** No such admin endpoint or policy action: see docs/admin-api.md. */
  NotFound: 'not_found',
  /** No audit records for the session asked for: check the session id and the range. */
  SessionNotFound: 'session_not_found',
  /** More records match than one report reads: narrow `from`/`to`, or use `warden audit export`. */
  RangeTooLarge: 'range_too_large',
  /** The request body is larger than 64 kB: send less. */
  TooLarge: 'too_large',
  /** The admin API failed for a reason of its own: see Warden's log, and report it. */
  InternalError: 'internal_error',
} as const;

/** One of {@link WardenErrorCode}'s codes; a code not in the catalogue is a compile error. */
export type WardenErrorCode = (typeof WardenErrorCode)[keyof typeof WardenErrorCode];

/**
 * The JSON-RPC error codes Warden itself puts on the wire, beside those it relays from downstream
 * servers unchanged. The standard ones equal the sdk's `ErrorCode`; the test checks it.
 *
 * NOTE: -32000 and -32001 are also the v1 sdk's ConnectionClosed and RequestTimeout, which its
 * client raises locally; on the wire from Warden they mean what is documented here.
 *
 * @example
 * ```ts
 * throw new McpError(JsonRpcErrorCode.ResourceNotFound, `Resource not found: ${uri}`, { uri });
 * ```
 */
export const JsonRpcErrorCode = {
  /** The request body is not JSON: send valid JSON-RPC. */
  ParseError: -32700,
  /** No such method, or a downstream server asked for input Warden cannot relay: see the message. */
  MethodNotFound: -32601,
  /** Bad params (unknown tool or prompt, a 2026-07-28 `requestState` for another call): correct the request. */
  InvalidParams: -32602,
  /** Warden failed, or a downstream server failed to answer: see Warden's log. */
  InternalError: -32603,
  /** HTTP refusals (host/origin, body too large, no session, shutting down, session cap): see the message. */
  ServerError: -32000,
  /** The `Mcp-Session-Id` names no session of this principal: open a new session with initialize. */
  SessionNotFound: -32001,
  /** No downstream server offers the resource URI: list resources, correct the URI. */
  ResourceNotFound: -32002,
  /** Policy denied a resource read or prompt get (a denied tool call is an isError result): see the reasons. */
  Denied: -32003,
  /** A stdio request came before `initialize` (e.g. a 2026-07-28 probe): send initialize; `data.supported`. */
  UnsupportedProtocolVersion: -32022,
} as const;

/** One of {@link JsonRpcErrorCode}'s codes. */
export type JsonRpcErrorCode = (typeof JsonRpcErrorCode)[keyof typeof JsonRpcErrorCode];
