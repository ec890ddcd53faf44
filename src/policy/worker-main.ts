/**
 * The policy worker thread (started by {@link WorkerEngine}, never imported): loads one bundle
 * into opa-wasm with Warden's host builtins and answers evaluations one at a time with opa-wasm's
 * raw result; the main thread reads the decision out of it. It holds no state worth keeping: the
 * watchdog terminates it whenever an evaluation runs over its budget and starts a fresh one from
 * the same compiled module. It imports wasm-policy.ts alone, so that a fresh one starts quickly.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { jsonBuffer, WasmLoadError, WasmPolicy } from './wasm-policy.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './worker-engine.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (reply: WorkerReply): void => port.postMessage(reply);

let policy: WasmPolicy | null = null;
try {
  policy = await WasmPolicy.load(init.bundle, init.module, init.entrypoint, {
    data: { json: init.dataJson },
    maxMemoryMb: init.budget.maxMemoryMb,
  });
  post({ type: 'ready', entrypoints: [...policy.entrypoints] });
} catch (err) {
  const code = err instanceof WasmLoadError ? err.code : 'policy_wasm_invalid';
  post({ type: 'load_failed', code, message: err instanceof Error ? err.message : String(err) });
}

port.on('message', (request: WorkerRequest) => {
  if (!policy) return;
  // An ArrayBuffer input is JSON text that opa-wasm copies into Wasm as it is: parsed once, by Wasm.
  const input = request.input === null ? undefined : jsonBuffer(request.input);
  const raw = policy.evaluate(request.name, input, request.nowMs);
  post({ type: 'result', id: request.id, raw });
});
