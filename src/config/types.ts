/** A downstream MCP server reached by spawning a process and speaking stdio. */
export interface StdioServerConfig {
  readonly kind: 'stdio';
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Absolute; defaults to the config file's directory so relative args resolve the same wherever Warden starts. */
  readonly cwd: string;
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly tools: ServerToolsConfig;
}

/** A downstream MCP server reached over Streamable HTTP. */
export interface HttpServerConfig {
  readonly kind: 'http';
  readonly name: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly tools: ServerToolsConfig;
}

export type ServerConfig = StdioServerConfig | HttpServerConfig;

/** `mcpServers.<name>.tools`: how Warden treats this server's tool definitions (docs/tool-pinning.md). */
export interface ServerToolsConfig {
  /**
   * A definition other than the accepted one: `deny` (default) refuses calls to the tool until an
   * admin accepts it, `monitor` reports and allows, `accept` accepts it at once (and records that).
   */
  readonly onChange: 'deny' | 'monitor' | 'accept';
}

export interface Principal {
  readonly sub: string;
  readonly roles: readonly string[];
  readonly claims: Readonly<Record<string, unknown>>;
}

/** The Streamable HTTP front end (`warden serve --http`). */
export interface HttpConfig {
  /** Largest accepted request body, in bytes. */
  readonly bodyLimit: number;
  /** A session with no request in flight for this long is closed; 0 never reaps. */
  readonly idleTimeoutMs: number;
  /** Most MCP sessions open at once, initializing ones included. */
  readonly maxSessions: number;
  /** Most MCP sessions one principal may hold open, initializing ones included. */
  readonly maxSessionsPerPrincipal: number;
  /** Host header values accepted (`host` any port, or `host:port`); undefined = the bound host and loopback names with the port. */
  readonly allowedHosts: readonly string[] | undefined;
  /** Origin values accepted; undefined = `http://` + each allowed host. */
  readonly allowedOrigins: readonly string[] | undefined;
  /** Where clients reach Warden (no trailing slash, no /mcp); undefined = derived from the request's validated Host. */
  readonly publicUrl: string | undefined;
  /** SSE streams of handshake-era sessions: resumable with Last-Event-ID (2025-11-25, SEP-1699). */
  readonly sse: SseConfig;
}

export interface SseConfig {
  /** The `retry` a stream's priming event gives: how long a client waits before it resumes. */
  readonly retryMs: number;
  /** A request still running after this long has its SSE stream closed, and the client polls; 0 never. */
  readonly pollAfterMs: number;
  /** Most bytes of events one session keeps for resuming; the oldest are dropped first. */
  readonly replayBytes: number;
}

/** One static bearer token and the principal it stands for. */
export interface BearerToken {
  readonly token: string;
  readonly principal: Principal;
}

/** How HTTP clients authenticate. */
export type AuthConfig =
  | { readonly type: 'none'; readonly authorizationServers: readonly string[] }
  | {
      readonly type: 'bearer';
      readonly tokens: readonly BearerToken[];
      readonly authorizationServers: readonly string[];
    }
  | {
      readonly type: 'jwt';
      /** An http(s) URL, or an absolute file path. */
      readonly jwks: { readonly kind: 'url'; readonly url: string } | { readonly kind: 'file'; readonly path: string };
      readonly issuer: string;
      readonly audience: readonly string[];
      readonly algorithms: readonly string[] | undefined;
      readonly rolesClaim: string;
      readonly clockToleranceSec: number;
      /** Tokens without `exp` are refused. */
      readonly requireExp: boolean;
      /** Tokens whose `iat` is older than this are refused (and `iat` is required); undefined: no limit. */
      readonly maxTokenAgeSec: number | undefined;
      readonly authorizationServers: readonly string[];
    };

/** One named policy bundle (OPA's `bundles.<name>`), with its service resolved into a URL. */
export interface PolicyBundleConfig {
  readonly name: string;
  /** Absolute path of a local directory or bundle .tar.gz. */
  readonly path?: string;
  /** Full URL of the bundle on a bundle service. */
  readonly url?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly polling?: {
    readonly minDelaySeconds: number;
    readonly maxDelaySeconds: number;
    readonly longPollingTimeoutSeconds?: number;
  };
  readonly signing?: { readonly keyid?: string; readonly scope?: string; readonly excludeFiles?: readonly string[] };
  readonly watch?: boolean;
}

/** `policy.verification`: keys (material read from key_file) and default signing options. */
export interface PolicyVerificationConfig {
  readonly keys: Readonly<
    Record<string, { readonly algorithm: string; readonly key: string; readonly scope?: string }>
  >;
  readonly keyid?: string;
  readonly scope?: string;
  readonly excludeFiles: readonly string[];
}

/**
 * `policy.limits`: the largest bundle Warden reads, from any source. A source over a limit is
 * refused as soon as it crosses it, before the rest is read.
 */
export interface BundleLimits {
  /** A `.tar.gz` file or bundle-service download, in bytes, before it is unpacked. */
  readonly compressedBytes: number;
  /** The bundle unpacked (the tar stream inside the gzip), or the policy files read from a directory, in bytes. */
  readonly uncompressedBytes: number;
  /** Entries in a tarball (files, directories, links), or policy files read from a directory. */
  readonly files: number;
}

/** `decisionLogs.service`: OPA's decision log upload API. */
export interface DecisionLogServiceConfig {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxBufferRecords: number;
  readonly timeoutMs: number;
}

/** `telemetry`: where spans go. Without `otlp`, the OTEL_* environment decides whether any are exported. */
export interface TelemetryConfig {
  readonly serviceName: string | undefined;
  readonly otlp?: { readonly endpoint: string; readonly headers: Readonly<Record<string, string>> };
}

/** The parsed, validated, frozen configuration. Every path in it is absolute. */
export interface WardenConfig {
  /** Absolute path of the file this came from (or '<inline>'). */
  readonly source: string;
  /**
   * `instance`: this replica's name (default: the host name, sanitised). It is `labels.id` of every
   * decision-log event and `instance` of every `session.opened` audit record.
   */
  readonly instance: string;
  readonly servers: readonly ServerConfig[];
  readonly policy: {
    /** The single bundle's path or URL (with `bundles`, the first one's). */
    readonly bundle: string;
    readonly entrypoint: string;
    readonly mode: 'enforce' | 'monitor';
    readonly watch: boolean;
    /** Named bundles (`policy.bundles`), resolved; undefined when the config uses `policy.bundle`. */
    readonly bundles?: readonly PolicyBundleConfig[];
    /** Signature verification (`policy.verification`), keys read; undefined when not configured. */
    readonly verification?: PolicyVerificationConfig;
    /** Explicit `policy.statusFile`; undefined means the default in the data directory. */
    readonly statusFile?: string;
    /** `policy.evaluation`: what one evaluation may spend before it is stopped and denied. */
    readonly evaluation: { readonly timeoutMs: number; readonly maxMemoryMb: number };
    /** `policy.limits`, defaults filled in. */
    readonly limits: BundleLimits;
  };
  readonly identity: Principal;
  readonly session: {
    readonly historyWindow: number;
    readonly resultMaxChars: number;
    /** The principal claim naming the tenant; the principal and global history scopes stay within one. */
    readonly tenantClaim?: string;
  };
  /** Bounds on what a client sends: URIs before routing (both fronts), arguments before the policy runs. */
  readonly limits: {
    /** Longest resource URI accepted. */
    readonly maxUriLength: number;
    /** Deepest nesting of a call's arguments (`{}` is 1). */
    readonly argumentsMaxDepth: number;
    /** Largest size of a call's arguments, in UTF-8 bytes of compact JSON. */
    readonly argumentsMaxBytes: number;
  };
  readonly audit: {
    readonly store: string;
    readonly onFailure: 'deny' | 'allow';
    readonly synchronous: 'full' | 'normal';
    readonly redact: readonly string[];
    readonly redactKey: string | undefined;
    readonly resultMaxChars: number;
    readonly checkpointEvery: number;
    readonly signingKey: string | undefined;
    readonly retention: { readonly maxAgeDays: number; readonly archiveDir: string } | undefined;
    /**
     * `shared`: every replica appends to one hash chain. `instance`: each appends to its own chain,
     * named by its `instance` (PostgreSQL only), tied to the others by signed ties (docs/scaling.md).
     */
    readonly chain: 'shared' | 'instance';
    /** With `chain: instance`: how often a replica writes a tie over every chain's head (and at close). */
    readonly tieEveryMs: number;
  };
  readonly approval: {
    readonly timeoutMs: number;
    readonly progressIntervalMs: number;
    /**
     * Seals a 2026-07-28 approval round's requestState, and keys the arguments digest approvals
     * are bound to (replicas must share it); undefined: a key per process.
     */
    readonly stateKey: string | undefined;
    /** How long an approval left pending may be answered and spent by one retry. */
    readonly retryWithinMs: number;
  };
  readonly decisionLogs: {
    readonly file: string | undefined;
    readonly stderr: boolean;
    readonly service?: DecisionLogServiceConfig;
  };
  /** OpenTelemetry traces (docs/telemetry.md); the OTEL_* environment fills in what is not set here. */
  readonly telemetry: TelemetryConfig;
  readonly log: { readonly level: 'error' | 'warn' | 'info' | 'debug'; readonly format: 'json' | 'text' };
  readonly http: HttpConfig;
  /** HTTP clients only; stdio sessions use `identity`. */
  readonly auth: AuthConfig;
}
