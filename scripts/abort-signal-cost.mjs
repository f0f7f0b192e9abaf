// What a call pays to combine its caller's signal with the server's time cap (src/rpc/deadline-cap.ts): one
// AbortSignal.any per call, against a listener on the caller's signal that aborts the cap's controller.
// Run: node scripts/abort-signal-cost.mjs  (prints microseconds per call for each way, best of five rounds)
const CALLS = 100_000;

function viaAny() {
  const caller = new AbortController();
  const cap = new AbortController();
  const timer = setTimeout(() => cap.abort(), 30_000);
  const signal = AbortSignal.any([caller.signal, cap.signal]);
  clearTimeout(timer);
  return signal;
}

function viaListener() {
  const caller = new AbortController();
  const cap = new AbortController();
  const timer = setTimeout(() => cap.abort(), 30_000);
  const onAbort = () => cap.abort(caller.signal.reason);
  caller.signal.addEventListener("abort", onAbort, { once: true });
  clearTimeout(timer);
  caller.signal.removeEventListener("abort", onAbort);
  return cap.signal;
}

for (const [name, make] of [
  ["AbortSignal.any", viaAny],
  ["listener", viaListener],
]) {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (let i = 0; i < CALLS; i++) make();
    best = Math.min(best, ((performance.now() - start) * 1000) / CALLS);
    await new Promise((resolve) => setTimeout(resolve, 0)); // let the collector run between rounds
  }
  console.log(`${name}: ${best.toFixed(2)} µs per call`);
}
