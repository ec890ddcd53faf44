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
}

/** A downstream MCP server reached over Streamable HTTP. */
export interface HttpServerConfig {
  readonly kind: 'http';
  readonly name: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly prefix: string;
  readonly timeoutMs: number;
}

export type ServerConfig = StdioServerConfig | HttpServerConfig;

export interface Principal {
  readonly sub: string;
  readonly roles: readonly string[];
  readonly claims: Readonly<Record<string, unknown>>;
}

/** The parsed, validated, frozen configuration. Every path in it is absolute. */
export interface WardenConfig {
  /** Absolute path of the file this came from (or '<inline>'). */
  readonly source: string;
  readonly servers: readonly ServerConfig[];
  readonly policy: {
    readonly bundle: string;
    readonly entrypoint: string;
    readonly mode: 'enforce' | 'monitor';
    readonly watch: boolean;
  };
  readonly identity: Principal;
  readonly session: { readonly historyWindow: number; readonly resultMaxChars: number };
  readonly audit: {
    readonly store: string;
    readonly onFailure: 'deny' | 'allow';
    readonly redact: readonly string[];
    readonly redactKey: string | undefined;
    readonly resultMaxChars: number;
    readonly checkpointEvery: number;
    readonly signingKey: string | undefined;
    readonly retention: { readonly maxAgeDays?: number; readonly archiveDir?: string } | undefined;
  };
  readonly decisionLogs: { readonly file: string | undefined; readonly stderr: boolean };
  readonly log: { readonly level: 'error' | 'warn' | 'info' | 'debug'; readonly format: 'json' | 'text' };
}
