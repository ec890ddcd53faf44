// The compiler's lib is ES2022 without DOM, which has no WebAssembly types; Node has the global.
// Only what the policy part uses: a compiled module is opaque and crosses to a worker as it is.
declare namespace WebAssembly {
  class Module {
    private constructor();
  }
  function compile(bytes: ArrayBufferView | ArrayBuffer): Promise<Module>;
}
