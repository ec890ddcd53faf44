// Result builders. Every structured result also carries its JSON as a text block, as the MCP spec
// asks of tools with an outputSchema, so clients that ignore structuredContent still see the data.

/**
 * @param {Record<string, unknown>} structured
 * @param {string} [summary] human-readable line put before the JSON
 */
export function ok(structured, summary) {
  const json = JSON.stringify(structured);
  return {
    content: [{ type: 'text', text: summary ? `${summary}\n${json}` : json }],
    structuredContent: structured,
  };
}

/**
 * A tool-level failure (isError: true): the call ran and failed, as opposed to a JSON-RPC error.
 * When the tool declares an outputSchema, pass `structured` matching it: the SDK Client validates
 * structuredContent even on error results.
 * @param {string} message
 * @param {Record<string, unknown>} [structured]
 */
export function fail(message, structured) {
  return {
    content: [{ type: 'text', text: message }],
    ...(structured && { structuredContent: structured }),
    isError: true,
  };
}
